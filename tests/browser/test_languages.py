"""The editor in Arabic, in real headless Chromium: the page is right to left and its layout mirrors (the
navigation sidebar on the right, each field's label to the right of its input), and the screenshot is saved."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from configurations import services
from tests import chromium as browser_support
from tests.browser.test_editor import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _x(element) -> float:
    return element.rect["x"] + element.rect["width"] / 2


def test_the_editor_in_arabic_reads_right_to_left_and_mirrors(browser, live_server, browser_editor):
    services.set_value(category="smtp", key="host", environment="staging", value="smtp.example.com")
    log_in(browser, live_server)
    url = f"{live_server.url}/admin/configurations/categories/smtp/staging/"
    browser.get(url)
    english_label = browser.find_element(By.CSS_SELECTOR, ".field-host label")
    english_input = browser.find_element(By.NAME, "value__host")
    assert _x(english_label) < _x(english_input)  # left to right: the label first
    browser.add_cookie({"name": "django_language", "value": "ar"})
    browser.get(url)
    html = browser.find_element(By.TAG_NAME, "html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    assert "أضف مفتاحًا" in browser.find_element(By.CSS_SELECTOR, "fieldset.add-key h2").text
    label = browser.find_element(By.CSS_SELECTOR, ".field-host label")
    field = browser.find_element(By.NAME, "value__host")
    assert _x(label) > _x(field)  # mirrored: the label to the right of its input
    sidebar = browser.find_element(By.ID, "nav-sidebar")
    content = browser.find_element(By.ID, "content")
    assert _x(sidebar) > _x(content)  # the navigation on the right
    browser_support.save_screenshot(browser, "editor-arabic-rtl")


def test_the_changelists_fit_a_1400_pixel_window(browser, live_server, browser_editor):
    """No changelist the product adds or shapes needs a horizontal scroll bar at 1,400 px, with long values in it."""
    services.set_value(category="smtp", key="host", environment="production", value="relay-" + "x" * 120 + ".example")
    services.set_value(category="feature", key="a_rather_long_key_name_for_a_flag", environment="staging", value="on")
    browser.set_window_size(1400, 900)
    log_in(browser, live_server)
    wide = {}
    for model in ("systemconfiguration", "configurationmetadata", "configurationtemplate", "changerequest",
                  "apitoken", "senttestemail", "reviewpolicy", "configurationhistoryarchive"):  # fmt: skip
        browser.get(f"{live_server.url}/admin/configurations/{model}/")
        width = browser.execute_script("return document.documentElement.scrollWidth")
        viewport = browser.execute_script("return document.documentElement.clientWidth")
        if width > viewport:
            wide[model] = (width, viewport)
    assert wide == {}
