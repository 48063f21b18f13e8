"""The newcomer's journeys of issue 14 in real headless Chromium; each saves a screenshot to look at."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from configurations import services
from configurations.models import ConfigurationTemplate
from tests import chromium as browser_support
from tests.browser.test_editor import log_in, next_page
from tests.factories import editor_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def messages_text(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, ".messagelist").text


def test_a_development_editor_finds_and_uses_the_editor_from_the_index(browser, live_server, browser_editor):
    editor_of("development", username="dev-only")
    log_in(browser, live_server, "dev-only")
    browser.get(f"{live_server.url}/admin/")
    link = browser.find_element(By.LINK_TEXT, "Edit by category and environment")
    assert "have permission to view or edit anything" not in browser.page_source
    link.click()
    browser.find_element(By.CSS_SELECTOR, "a[href$='/categories/smtp/development/']").click()
    for name, value in (("value__host", "smtp.dev.example"), ("value__port", "2525")):
        field = browser.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    Select(browser.find_element(By.NAME, "value__secure")).select_by_value("false")
    browser.find_element(By.NAME, "reason").send_keys("first dev settings")
    next_page(browser, lambda: browser.find_element(By.NAME, "_save").click())
    assert "Saved 3 changes to smtp in development" in messages_text(browser)
    browser_support.save_screenshot(browser, "journey-1-development-editor")
    assert services.get_value(category="smtp", key="secure", environment="development") is False


def test_a_category_without_metadata_is_edited_in_two_environments(browser, live_server, browser_editor):
    services.set_value(category="feature", key="beta", environment="test", value="on")
    log_in(browser, live_server)
    browser.get(f"{live_server.url}/admin/configurations/categories/")
    browser.find_element(By.CSS_SELECTOR, "a[href$='/categories/feature/staging/']").click()
    assert "No keys in staging yet" in browser.find_element(By.CSS_SELECTOR, "p.empty-category").text
    browser.find_element(By.NAME, "new_key").send_keys("beta")
    browser.find_element(By.NAME, "new_value").send_keys("off")
    browser.find_element(By.NAME, "reason").send_keys("try it in staging")
    next_page(browser, lambda: browser.find_element(By.NAME, "_save").click())
    assert "Saved 1 change to feature in staging: beta" in messages_text(browser)
    browser.find_element(By.CSS_SELECTOR, "a.env-tab.env-test").click()
    field = browser.find_element(By.NAME, "value__beta")
    field.clear()
    field.send_keys("off")
    browser.find_element(By.NAME, "reason").send_keys("off everywhere")
    next_page(browser, lambda: browser.find_element(By.NAME, "_save").click())
    assert "Saved 1 change to feature in test" in messages_text(browser)
    browser_support.save_screenshot(browser, "journey-2-category-without-metadata")
    assert services.get_value(category="feature", key="beta", environment="staging") == "off"
    assert services.get_value(category="feature", key="beta", environment="test") == "off"


def test_the_template_action_for_a_user_without_production_rights(browser, live_server, browser_editor):
    user = editor_of("staging", username="stager")
    user.user_permissions.add(Permission.objects.get(codename="view_configurationtemplate"))
    gmail = ConfigurationTemplate.objects.get(provider_name="gmail")
    log_in(browser, live_server, "stager")
    browser.get(f"{live_server.url}/admin/configurations/configurationtemplate/")
    browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{gmail.pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("apply_to_environment")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    environments = [o.get_attribute("value") for o in Select(browser.find_element(By.NAME, "environment")).options]
    assert environments == ["", "staging"]  # only what this user may edit is offered, and none is chosen
    Select(browser.find_element(By.NAME, "environment")).select_by_value("staging")
    browser.find_element(By.NAME, "reason").send_keys("use gmail")
    browser.find_element(By.NAME, "var__EMAIL_USER").send_keys("team@gmail.com")
    browser.find_element(By.NAME, "var__EMAIL_PASS").send_keys("abcd efgh ijkl mnop")
    browser.find_element(By.CSS_SELECTOR, "#content-main .submit-row [type=submit]").click()
    browser_support.save_screenshot(browser, "journey-3-template-preview")
    next_page(browser, lambda: browser.find_element(By.CSS_SELECTOR, "button[name=post][value=yes]").click())
    assert "Applied gmail to smtp in staging" in messages_text(browser)
    assert services.get_value(category="smtp", key="port", environment="staging") == 587


def test_compare_and_copy_with_its_confirmation(browser, live_server, browser_editor):
    services.set_value(category="smtp", key="port", environment="staging", value="2525")
    services.set_value(category="smtp", key="port", environment="production", value="587")
    log_in(browser, live_server)
    browser.get(f"{live_server.url}/admin/configurations/categories/smtp/compare/"
                "?left=staging&right=production")  # fmt: skip
    browser.find_element(By.CSS_SELECTOR, "input[name=keys][value=port]").click()
    browser.find_element(By.ID, "copy-reason").send_keys("promote the port")
    box = browser.find_element(By.NAME, "confirm_production")
    assert "Yes, change production" in box.find_element(By.XPATH, "..").text
    browser.find_element(By.CSS_SELECTOR, "button[name=target][value=production]").click()
    assert services.get_value(category="smtp", key="port", environment="production") == 587  # the browser asks
    browser_support.save_screenshot(browser, "journey-4-copy-confirmation")
    browser.find_element(By.NAME, "confirm_production").click()
    next_page(browser, lambda: browser.find_element(By.CSS_SELECTOR, "button[name=target][value=production]").click())
    assert "Copied 1 key from staging to production: port" in messages_text(browser)
    assert services.get_value(category="smtp", key="port", environment="production") == 2525
