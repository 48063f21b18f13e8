"""Headless Chromium for browser tests: Debian's chromium and chromedriver, driven by Selenium."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1300,1400",
]


def start():
    """A new headless Chromium session; skips (a failure on CI) when Chromium is not installed."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(
            "browser tests need Debian's chromium and chromium-driver: apt-get install chromium chromium-driver"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console messages, CSP reports among them
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    return driver


def save_screenshot(driver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def load_shipped_data() -> None:
    """Re-load the data migrations' rows (transactional tests flush tables between tests)."""
    from django.apps import apps
    from django.db import connection

    with connection.schema_editor() as editor:
        for name, function in (
            ("0003_smtp_metadata_and_templates", "load"),
            ("0005_more_smtp_providers", "load"),
            ("0011_metadata_value_types", "forwards"),
        ):
            getattr(importlib.import_module(f"configurations.migrations.{name}"), function)(apps, editor)
