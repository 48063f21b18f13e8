"""The admin works under its Content Security Policy: real Chromium reports no violation on any page, while an
inline script injected on purpose is refused and reported (so the console is really being read)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from selenium.webdriver.common.by import By

from configurations import services
from configurations.models import ConfigurationHistory, SystemConfiguration
from tests.browser.test_editor import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def violations(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def test_an_injected_inline_script_is_refused_and_reported(browser, live_server, browser_editor):
    log_in(browser, live_server)
    browser.get(f"{live_server.url}/admin/")
    violations(browser)  # clear
    browser.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.injected = true;';"
        "document.body.appendChild(s);"
    )
    assert browser.execute_script("return window.injected === true") is False
    assert any("script-src" in message for message in violations(browser))


def test_admin_pages_work_without_a_single_violation(browser, live_server, browser_editor):
    services.set_value(category="smtp", key="port", environment="staging", value="2525")
    services.set_value(category="smtp", key="auth_pass", environment="production", value="csp-secret-1")
    row = SystemConfiguration.objects.get(category="smtp", config_key="port", environment="staging")
    entry = ConfigurationHistory.objects.filter(config_id=row.pk).order_by("-id").first()
    log_in(browser, live_server)
    pages = [
        "/admin/",
        "/admin/configurations/categories/",
        "/admin/configurations/categories/smtp/production/",
        "/admin/configurations/categories/smtp/compare/?left=staging&right=production",
        "/admin/configurations/history/",
        f"/admin/configurations/history/{entry.pk}/rollback/",
        "/admin/configurations/systemconfiguration/",
        f"/admin/configurations/systemconfiguration/{row.pk}/change/",
        "/admin/configurations/systemconfiguration/add/",
        "/admin/configurations/configurationmetadata/",
        "/admin/configurations/configurationtemplate/",
        "/admin/configurations/configurationhistory/",
        "/admin/configurations/apitoken/",
        "/admin/configurations/apitoken/add/",
    ]
    found = {}
    for page in pages:
        browser.get(live_server.url + page)
        assert browser.find_element(By.ID, "content")
        found[page] = violations(browser)
    # The admin's own JavaScript ran: the changelist's select-all box and the sidebar filter are wired up.
    browser.get(live_server.url + "/admin/configurations/systemconfiguration/")
    browser.find_element(By.ID, "action-toggle").click()
    assert browser.find_element(By.CSS_SELECTOR, ".action-counter").text.startswith(
        str(SystemConfiguration.objects.count())
    )
    found["changelist actions"] = violations(browser)
    assert all(messages == [] for messages in found.values()), found


def test_the_api_docs_page_renders_under_the_policy(browser, live_server):
    browser.get(live_server.url + "/api/v1/docs/")
    schema = json.loads(Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    expected = sum(len(path) for path in schema["paths"].values()) + len(schema["webhooks"])  # 12 + 2 webhooks
    operations = browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")  # Swagger UI drew the schema
    assert len(operations) == expected == 14, browser.page_source[:2000]
    assert violations(browser) == []
