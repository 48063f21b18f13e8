"""The grouped editor in real headless Chromium against a live server."""

from __future__ import annotations

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from configurations import services
from configurations.models import ConfigurationHistory
from tests.factories import USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = USER_PASSWORD


@pytest.fixture
def editor_data(browser_editor):
    services.set_value(category="smtp", key="host", environment="production", value="smtp.gmail.com")
    services.set_value(category="smtp", key="port", environment="production", value="587")
    services.set_value(category="smtp", key="auth_pass", environment="production", value="browser-secret-1")


def log_in(driver, live_server, username="editor"):
    driver.get(f"{live_server.url}/admin/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert driver.find_element(By.ID, "user-tools")


def open_smtp_production(driver, live_server):
    driver.get(f"{live_server.url}/admin/")
    driver.find_element(By.LINK_TEXT, "Edit by category and environment").click()
    driver.find_element(By.CSS_SELECTOR, "a[href$='/categories/smtp/production/']").click()


def save_port(driver, port: str, reason: str):
    field = driver.find_element(By.NAME, "value__port")
    field.clear()
    field.send_keys(port)
    driver.find_element(By.NAME, "reason").send_keys(reason)
    for box in driver.find_elements(By.NAME, "confirm_production"):
        box.click()  # "Yes, change production"
    next_page(driver, lambda: driver.find_element(By.NAME, "_save").click())


def next_page(driver, action) -> None:
    """Do ``action`` and wait until the next page has loaded: a mark left on the old page is gone and the new one is
    complete. (Waiting for an old element to go stale can race Chromium's DevTools: "Node with given id does not
    belong to the document".)"""
    driver.execute_script("window.__oldPage = true")
    action()

    def loaded(d) -> bool:
        return d.execute_script("return window.__oldPage === undefined && document.readyState === 'complete'")

    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(loaded)


def test_change_the_port_and_see_it_in_the_history(browser, live_server, editor_data):
    log_in(browser, live_server)
    open_smtp_production(browser, live_server)
    headings = browser.find_elements(By.CSS_SELECTOR, "fieldset.config-group h2")
    groups = [h.get_attribute("textContent") for h in headings]
    assert groups == ["Connection Settings", "Security Settings", "Authentication", "Sender"]
    assert "browser-secret-1" not in browser.page_source
    assert browser.find_element(By.NAME, "value__auth_pass").get_attribute("value") == ""
    save_port(browser, "465", "Switch to implicit TLS")
    assert "Saved 1 change to smtp in production: port" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert browser.find_element(By.NAME, "value__port").get_attribute("value") == "465"
    browser.find_element(By.CSS_SELECTOR, ".field-port a.field-history").click()
    row = browser.find_element(By.CSS_SELECTOR, "table.history tbody tr")
    assert "587" in row.text and "465" in row.text
    assert "Switch to implicit TLS" in row.text and "editor" in row.text


def test_out_of_range_port_shows_the_inline_error_and_changes_nothing(browser, live_server, editor_data):
    log_in(browser, live_server)
    open_smtp_production(browser, live_server)
    before = ConfigurationHistory.objects.count()
    save_port(browser, "70000", "Typo")
    error = browser.find_element(By.CSS_SELECTOR, ".field-port ul.errorlist")
    assert error.text == "SMTP Port must be at most 65535"
    assert "Nothing was saved" in browser.page_source
    assert services.get_value(category="smtp", key="port", environment="production") == 587
    assert ConfigurationHistory.objects.count() == before


def test_a_stale_save_from_a_second_session_is_refused(browser, second_browser, live_server, editor_data):
    for driver in (browser, second_browser):
        log_in(driver, live_server)
        open_smtp_production(driver, live_server)
    save_port(second_browser, "2525", "First editor")
    assert "Saved 1 change " in second_browser.page_source
    save_port(browser, "465", "Second editor, working from an old page")
    message = browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert "Someone else changed smtp in production after you opened this page" in message
    assert browser.find_element(By.NAME, "value__port").get_attribute("value") == "2525"
    assert services.get_value(category="smtp", key="port", environment="production") == 2525
