"""The SMTP backend and "Send test email", against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import socket
import time

import pytest
from django.core.mail import EmailMessage
from django.urls import reverse

from configurations import mail, runtime, services
from configurations.models import SentTestEmail
from tests.smtp_server import PASSWORD, USER, SilentServer, SmtpServer, free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(tmp_path, settings):
    runtime.reset()
    with SmtpServer(tmp_path) as server:
        settings.CONFIG_SMTP_CA_FILE = str(server.cert_file)
        settings.CONFIG_ENVIRONMENT = "staging"
        configure(port=server.port)
        yield server
    runtime.reset()


def configure(environment="staging", *, host="127.0.0.1", port, secure="true", user=USER, password=PASSWORD):
    for key, value in [
        ("host", host),
        ("port", str(port)),
        ("secure", secure),
        ("auth_user", user),
        ("auth_pass", password),
    ]:
        services.set_value(category="smtp", key=key, environment=environment, value=value)
    runtime.reload(environment)


def test_backend_sends_through_the_smtp_category_with_starttls_and_auth(smtp):
    backend = mail.ConfigurationEmailBackend()
    sent = EmailMessage("Hello", "Body text", "app@example.com", ["someone@example.com"], connection=backend).send()
    assert sent == 1
    [envelope] = smtp.inbox.messages
    assert envelope.rcpt_tos == ["someone@example.com"] and envelope.mail_from == "app@example.com"
    assert b"Subject: Hello" in envelope.original_content and b"Body text" in envelope.original_content


def test_settings_email_backend_dotted_path_works(smtp, settings):
    from django.core.mail import get_connection

    connection = get_connection("configurations.mail.ConfigurationEmailBackend")
    EmailMessage("Via settings", "x", "app@example.com", ["b@example.com"], connection=connection).send()
    assert len(smtp.inbox.messages) == 1


def test_a_change_applies_to_the_next_email_without_a_restart(smtp, tmp_path):
    backend = mail.ConfigurationEmailBackend()
    EmailMessage("one", "x", "a@example.com", ["b@example.com"], connection=backend).send()
    with SmtpServer(tmp_path) as second:  # the same certificate, another port
        services.set_value(category="smtp", key="port", environment="staging", value=str(second.port))
        runtime.reload("staging")  # what the watcher does when the change commits
        EmailMessage("two", "x", "a@example.com", ["b@example.com"], connection=backend).send()
        assert len(second.inbox.messages) == 1
    assert len(smtp.inbox.messages) == 1


@pytest.mark.parametrize(
    ("port", "secure", "use_ssl", "use_tls"),
    [(587, "true", False, True), (465, "true", True, False), (25, "false", False, False), (2525, "true", False, True)],
)
def test_secure_means_ssl_on_465_and_starttls_elsewhere(settings, port, secure, use_ssl, use_tls):
    runtime.reset()
    configure("test", port=port, secure=secure)
    found = mail.smtp_settings("test")
    assert (found.use_ssl, found.use_tls) == (use_ssl, use_tls)


def test_send_test_email_success_is_recorded(smtp, user):
    attempt = services.send_test_email(environment="staging", recipient="ops@example.com", actor=user)
    assert attempt.succeeded and "Sent to ops@example.com through 127.0.0.1" in attempt.result
    assert (attempt.sent_by, attempt.environment) == (user, "staging")
    assert smtp.inbox.messages[0].rcpt_tos == ["ops@example.com"]


def _failure(**changes) -> SentTestEmail:
    configure(**changes)
    return services.send_test_email(environment="staging", recipient="ops@example.com")


def test_wrong_password(smtp):
    attempt = _failure(port=smtp.port, password="wrong-password-99")
    assert not attempt.succeeded
    assert attempt.result.startswith(f"Authentication failed at 127.0.0.1:{smtp.port}")
    assert "wrong-password-99" not in attempt.result and PASSWORD not in attempt.result


def test_closed_port(smtp):
    attempt = _failure(port=free_port())
    assert "Connection refused by 127.0.0.1" in attempt.result


def test_untrusted_certificate_is_a_tls_failure(smtp, settings):
    settings.CONFIG_SMTP_CA_FILE = ""
    attempt = _failure(port=smtp.port)
    assert (
        attempt.result
        == f"TLS failure with 127.0.0.1:{smtp.port}: certificate verify failed (self-signed certificate)."
    )


def test_a_silent_server_times_out_within_the_bound(smtp, settings):
    settings.CONFIG_SMTP_TIMEOUT = 0.5
    silent = SilentServer()
    try:
        start = time.monotonic()
        attempt = _failure(port=silent.port)
        assert time.monotonic() - start < 3
    finally:
        silent.close()
    assert attempt.result == f"Timed out after 0.5 s talking to 127.0.0.1:{silent.port}."


def test_unconfigured_smtp_says_so(settings):
    runtime.reset()
    attempt = services.send_test_email(environment="test", recipient="ops@example.com")
    assert attempt.result == "SMTP is not configured: smtp.host [test] has no value"


def test_unknown_host(smtp, monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    attempt = _failure(host="mail.invalid", port=smtp.port)
    assert attempt.result == f"The host name of mail.invalid:{smtp.port} could not be resolved."


def test_send_test_email_in_the_admin(admin_client, admin_user, smtp):
    edit = reverse("admin:configurations_category_edit", args=["smtp", "staging"])
    assert "Send test email" in admin_client.get(edit).content.decode()
    url = reverse("admin:configurations_send_test_email", args=["smtp", "staging"])
    response = admin_client.post(url, {"recipient": "ops@example.com"}, follow=True)
    text = response.content.decode()
    assert "Test email: Sent to ops@example.com" in text and PASSWORD not in text
    assert SentTestEmail.objects.get().sent_by == admin_user
    bad = admin_client.post(url, {"recipient": "not-an-address"}, follow=True)
    assert "Enter the email address" in bad.content.decode()


def test_send_test_email_needs_the_environment_permission(staff_client, smtp):
    client = staff_client("edit_test")
    url = reverse("admin:configurations_send_test_email", args=["smtp", "staging"])
    assert client.post(url, {"recipient": "ops@example.com"}).status_code == 403
    assert not SentTestEmail.objects.exists() and not smtp.inbox.messages
    page = client.get(reverse("admin:configurations_category_edit", args=["smtp", "staging"])).content.decode()
    assert "Send test email" not in page
