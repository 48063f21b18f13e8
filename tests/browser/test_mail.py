""" "Send test email" in real headless Chromium, through a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from configurations import runtime
from configurations.models import SentTestEmail
from tests.browser.test_editor import log_in, next_page
from tests.runtime.test_mail import configure
from tests.smtp_server import PASSWORD, SmtpServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_send_a_test_email_from_the_smtp_editor(browser, live_server, browser_editor, tmp_path, settings):
    runtime.reset()
    with SmtpServer(tmp_path) as server:
        settings.CONFIG_SMTP_CA_FILE = str(server.cert_file)
        configure("staging", port=server.port)
        log_in(browser, live_server)
        browser.get(f"{live_server.url}/admin/configurations/categories/smtp/staging/")
        recipient = browser.find_element(By.NAME, "recipient")
        recipient.send_keys("ops@example.com")
        next_page(browser, lambda: browser.find_element(By.NAME, "_send_test").click())
        message = browser.find_element(By.CSS_SELECTOR, ".messagelist").text
        assert f"Test email: Sent to ops@example.com through 127.0.0.1:{server.port}." in message
        assert PASSWORD not in browser.page_source
        [envelope] = server.inbox.messages
        assert envelope.rcpt_tos == ["ops@example.com"]
        assert b"Test email from configurations (staging)" in envelope.original_content
    assert SentTestEmail.objects.get().succeeded
    runtime.reset()
