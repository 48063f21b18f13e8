"""Apply the gmail template to staging in real headless Chromium: action, form, preview, editor."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from configurations import services
from configurations.models import SystemConfiguration
from tests.browser.test_editor import log_in, next_page
from tests.factories import app_password

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
APP_PASSWORD = app_password()


def test_apply_gmail_to_staging_end_to_end(browser, live_server, browser_editor):
    log_in(browser, live_server)
    browser.get(f"{live_server.url}/admin/configurations/configurationtemplate/")
    row = browser.find_element(By.XPATH, "//tr[.//th/a[normalize-space()='gmail']]")
    row.find_element(By.CSS_SELECTOR, "input.action-select").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("apply_to_environment")
    browser.find_element(By.NAME, "index").click()

    user_field = browser.find_element(By.NAME, "var__EMAIL_USER")  # waits for the form page
    assert "Enable 2FA on your Gmail account" in browser.find_element(By.CSS_SELECTOR, ".instructions-list").text
    user_field.send_keys("team@gmail.com")
    password = browser.find_element(By.NAME, "var__EMAIL_PASS")
    assert password.get_attribute("type") == "password"
    password.send_keys(APP_PASSWORD)
    Select(browser.find_element(By.NAME, "environment")).select_by_value("staging")
    browser.find_element(By.NAME, "reason").send_keys("switch to gmail")
    next_page(browser, lambda: browser.find_element(By.CSS_SELECTOR, "input[value='Preview changes']").click())

    statuses = {
        r.get_attribute("data-key"): r.find_element(By.CSS_SELECTOR, "td.status").text
        for r in browser.find_elements(By.CSS_SELECTOR, "table.template-preview tbody tr")
    }
    assert statuses == {"host": "new", "port": "new", "secure": "new", "auth_user": "new", "auth_pass": "new"}
    assert APP_PASSWORD not in browser.page_source
    assert not SystemConfiguration.objects.filter(environment="staging").exists()  # nothing written yet
    browser.find_element(By.CSS_SELECTOR, "button[value='yes']").click()

    WebDriverWait(browser, 10).until(expected_conditions.url_contains("/categories/smtp/staging/"))
    message = browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert "Applied gmail to smtp in staging: 5 keys changed" in message
    assert browser.find_element(By.NAME, "value__host").get_attribute("value") == "smtp.gmail.com"
    assert browser.find_element(By.NAME, "value__port").get_attribute("value") == "587"
    assert browser.find_element(By.NAME, "value__auth_user").get_attribute("value") == "team@gmail.com"
    assert browser.find_element(By.NAME, "value__auth_pass").get_attribute("value") == ""
    assert APP_PASSWORD not in browser.page_source
    assert services.get_value(category="smtp", key="auth_pass", environment="staging") == APP_PASSWORD
