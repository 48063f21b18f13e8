"""Webhooks in real headless Chromium: a superuser adds an endpoint, sees its signing secret once, sends a test
event, and after the dispatcher ran sees it delivered in the endpoint's log; the receiver verifies the signature."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from standardwebhooks import Webhook

from configurations.models import WebhookEndpoint
from configurations.services import webhooks
from tests import chromium as browser_support
from tests.browser.test_editor import log_in, next_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_an_endpoint_see_the_secret_once_and_watch_a_test_event_arrive(
    browser, live_server, browser_editor, receiver
):
    log_in(browser, live_server)
    browser.get(f"{live_server.url}/admin/configurations/webhookendpoint/add/")
    browser.find_element(By.NAME, "name").send_keys("ops")
    browser.find_element(By.NAME, "url").send_keys(receiver.url)
    browser.find_element(By.CSS_SELECTOR, "input[name=environments][value=production]").click()
    browser.find_element(By.NAME, "reason").send_keys("ops alerts")
    next_page(browser, lambda: browser.find_element(By.NAME, "_save").click())
    secret = browser.find_element(By.ID, "signing-secret").text
    assert secret.startswith("whsec_")
    browser_support.save_screenshot(browser, "webhook-1-secret-shown-once")

    endpoint = WebhookEndpoint.objects.get(name="ops")
    next_page(browser, lambda: browser.find_element(By.LINK_TEXT, "Back to the endpoint").click())
    assert secret not in browser.page_source
    next_page(browser, lambda: browser.find_element(By.XPATH, "//button[normalize-space()='Send test event']").click())
    assert "A test event is queued for ops" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert webhooks.deliver_due().delivered == 1
    browser.get(f"{live_server.url}/admin/configurations/webhookendpoint/{endpoint.pk}/change/")
    log = browser.find_element(By.CSS_SELECTOR, "#deliveries-group").text
    assert "webhook.test" in log and "delivered" in log
    browser_support.save_screenshot(browser, "webhook-2-delivered")
    ((headers, body),) = receiver.received
    assert Webhook(secret).verify(body, headers)["type"] == "webhook.test"
