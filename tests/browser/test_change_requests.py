"""Four-eyes review in real headless Chromium: one person opens a change request from the editor, a second approves
it, and it goes live only when applied."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from configurations import services
from tests import chromium as browser_support
from tests.browser.test_editor import log_in, next_page
from tests.factories import editor_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ENV = "production"


def _messages(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, ".messagelist").text


def _log_out(driver, live_server) -> None:
    driver.delete_all_cookies()
    driver.get(f"{live_server.url}/admin/login/")


def test_open_review_approve_as_a_second_user_and_apply(browser, live_server, browser_editor):
    services.set_value(category="smtp", key="host", environment=ENV, value="old.example.com")
    services.set_policy(ENV, approvals=1, actor=browser_editor)
    editor_of(ENV, username="author")
    editor_of(ENV, username="reviewer")

    log_in(browser, live_server, "author")
    browser.get(f"{live_server.url}/admin/configurations/categories/smtp/{ENV}/")
    assert "saving opens a change request" in browser.find_element(By.CSS_SELECTOR, "p.review-banner").text
    host = browser.find_element(By.NAME, "value__host")
    host.clear()
    host.send_keys("new.example.com")
    browser.find_element(By.NAME, "reason").send_keys("move to the new relay")
    browser.find_element(By.NAME, "request_title").send_keys("New SMTP relay")
    next_page(browser, lambda: browser.find_element(By.NAME, "_save").click())
    assert "Nothing is live yet: change request #" in _messages(browser)
    row = browser.find_element(By.CSS_SELECTOR, "table.request-items tr[data-key='smtp.host']")
    assert "old.example.com" in row.text and "new.example.com" in row.text
    assert not browser.find_elements(By.CSS_SELECTOR, "button[value=approve]")  # not her own
    review_page = browser.current_url
    browser_support.save_screenshot(browser, "change-request-1-opened")
    assert services.get_value(category="smtp", key="host", environment=ENV) == "old.example.com"

    _log_out(browser, live_server)
    log_in(browser, live_server, "reviewer")
    browser.get(f"{live_server.url}/admin/configurations/changerequest/")
    next_page(browser, lambda: browser.find_element(By.LINK_TEXT, "New SMTP relay").click())
    assert browser.current_url == review_page
    next_page(browser, lambda: browser.find_element(By.CSS_SELECTOR, "button[value=approve]").click())
    assert "approved" in _messages(browser)
    browser_support.save_screenshot(browser, "change-request-2-approved")
    assert services.get_value(category="smtp", key="host", environment=ENV) == "old.example.com"
    next_page(browser, lambda: browser.find_element(By.CSS_SELECTOR, "button[value=apply]").click())
    assert "applied" in _messages(browser)
    assert services.get_value(category="smtp", key="host", environment=ENV) == "new.example.com"
    next_page(browser, lambda: browser.find_element(By.CSS_SELECTOR, "a.history-link").click())
    assert "change request #" in browser.page_source
    browser_support.save_screenshot(browser, "change-request-3-applied")
