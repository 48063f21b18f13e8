"""Accessibility in light and dark: axe-core (npm, tests/browser/package.json, installed by `make test`) injected
into the product's pages in headless Chromium finds no serious or critical violation, with the colour scheme the
browser asks for (prefers-color-scheme) light and dark, and with the admin's own theme toggle set to dark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from selenium.webdriver.common.by import By

from configurations import services
from configurations.models import ConfigurationHistory, ConfigurationTemplate, SystemConfiguration
from configurations.services import webhooks
from tests import chromium as browser_support
from tests.browser.test_editor import log_in
from tests.factories import editor_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: `make test` runs `npm ci --prefix tests/browser` (needs npm)")
    return AXE.read_text()


def scheme(driver, value: str) -> None:
    """What the browser tells pages: prefers-color-scheme light or dark."""
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme",
                                                                          "value": value}]})  # fmt: skip


def violations(driver, axe_source: str) -> list[str]:
    """The page's serious and critical axe violations, each as rule: target (summary)."""
    driver.execute_script(axe_source)
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done(String(e)));"
    )
    assert isinstance(found, list), found
    return [
        f"{v['id']}: {', '.join(json.dumps(n['target']) for n in v['nodes'][:3])} ({v['nodes'][0]['failureSummary']})"
        for v in found
        if v["impact"] in BLOCKING
    ]


@pytest.fixture
def pages(live_server, browser_editor, receiver) -> list[str]:
    """The pages a newcomer walks through (issue 23), with data on them."""
    for env, port in (("development", "2525"), ("staging", "2525"), ("production", "587")):
        services.set_value(category="smtp", key="port", environment=env, value=port)
    services.set_value(category="smtp", key="host", environment="production", value="smtp.example.com")
    services.set_value(category="smtp", key="auth_pass", environment="production", value="a11y-secret-1")
    services.set_value(category="smtp", key="port", environment="production", value="465")
    row = SystemConfiguration.objects.get(category="smtp", config_key="port", environment="production")
    entry = ConfigurationHistory.objects.filter(config_id=row.pk).order_by("id").first()
    author = editor_of("production", username="a11y-author")
    opened = services.open_request("production", [services.Change("smtp", "port", "production", "2526")],
                                   title="Move the port", actor=author)  # fmt: skip
    hook, _ = webhooks.add_endpoint("a11y", receiver.url, environments=["production"])
    webhooks.send_test_event(hook)
    webhooks.deliver_due()
    return [
        "/admin/",
        "/admin/configurations/categories/",
        "/admin/configurations/categories/smtp/development/",
        "/admin/configurations/categories/smtp/production/",
        f"/admin/configurations/history/?config={row.pk}",
        f"/admin/configurations/configurationhistory/{entry.pk}/change/",
        "/admin/configurations/categories/smtp/compare/?left=staging&right=production",
        "/admin/configurations/changerequest/",
        f"/admin/configurations/changerequest/{opened.request.pk}/change/",
        f"/admin/configurations/history/{entry.pk}/rollback/",
        f"/admin/configurations/webhookendpoint/{hook.pk}/change/",
        "/admin/configurations/webhookdelivery/",
    ]


def assert_none(found: dict[str, list[str]]) -> None:
    report = [f"{page}: {problem}" for page, problems in found.items() for problem in problems]
    assert not report, "\n".join(report)


def _template_apply_page(driver, live_server) -> None:
    """The template apply form: an admin action, reached by a POST from the changelist."""
    gmail = ConfigurationTemplate.objects.get(provider_name="gmail")
    driver.get(f"{live_server.url}/admin/configurations/configurationtemplate/")
    driver.find_element(By.CSS_SELECTOR, f"input[name={ACTION_CHECKBOX_NAME}][value='{gmail.pk}']").click()
    driver.find_element(By.CSS_SELECTOR, "select[name=action] option[value=apply_to_environment]").click()
    driver.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    driver.find_element(By.NAME, "var__EMAIL_USER")  # the form page is there


@pytest.mark.parametrize("colours", ["light", "dark"])
def test_no_serious_violation_on_the_products_pages(browser, live_server, pages, axe_source, colours):
    scheme(browser, colours)
    browser.get(f"{live_server.url}/admin/login/")
    found = {"/admin/login/": violations(browser, axe_source)}
    log_in(browser, live_server)
    for page in pages:
        browser.get(live_server.url + page)
        found[page] = violations(browser, axe_source)
    _template_apply_page(browser, live_server)
    found["template apply"] = violations(browser, axe_source)
    browser_support.save_screenshot(browser, f"a11y-template-apply-{colours}")
    browser.get(live_server.url + pages[3])
    browser_support.save_screenshot(browser, f"a11y-editor-production-{colours}")
    assert_none(found)


def test_the_admins_own_dark_theme_passes_too(browser, live_server, pages, axe_source):
    """The theme toggle (stored in localStorage) chooses dark whatever the browser prefers."""
    scheme(browser, "light")
    log_in(browser, live_server)
    browser.get(live_server.url + pages[0])
    browser.execute_script("localStorage.setItem('theme', 'dark')")
    found = {}
    for page in pages:
        browser.get(live_server.url + page)
        assert browser.execute_script("return document.documentElement.dataset.theme") == "dark"
        found[page] = violations(browser, axe_source)
    assert_none(found)


def test_the_axe_check_can_fail(browser, live_server, axe_source, browser_editor):
    """A page with a known serious violation (text too faint to read) is reported: the check is real."""
    log_in(browser, live_server)
    browser.get(f"{live_server.url}/admin/")
    browser.execute_script(
        "const p = document.createElement('p'); p.textContent = 'faint words';"
        "p.style.color = '#eee'; p.style.background = '#fff'; document.getElementById('content').appendChild(p);"
    )
    assert any(problem.startswith("color-contrast") for problem in violations(browser, axe_source))
