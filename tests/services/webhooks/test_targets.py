"""The server-side request forgery guard: checked when an endpoint is saved and again before each delivery."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError

from configurations.models import WebhookDelivery
from configurations.services import webhooks
from configurations.services.webhooks import sender, targets

PUBLIC = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://hooks.example.com/x", "must be https"),
        ("http://hooks.example.com/x", "http:// is allowed only for hosts in CONFIG_WEBHOOK_ALLOWED_HOSTS"),
        ("https://user:pw@hooks.example.com/x", "user name or password"),
        ("https://127.0.0.1/x", "loopback"),
        ("https://[::1]/x", "loopback"),
        ("https://10.1.2.3/x", "private"),
        ("https://192.168.0.10/x", "private"),
        ("https://169.254.169.254/latest/meta-data/", "link-local (cloud metadata)"),
        ("https://[::ffff:127.0.0.1]/x", "loopback"),
        ("https://0.0.0.0/x", "unspecified"),
        ("https://100.64.0.1/x", "non-global"),
    ],
)
def test_unsafe_urls_are_refused_with_the_reason(url, why):
    with pytest.raises(targets.UnsafeTarget, match=why.replace("(", r"\(").replace(")", r"\)")):
        targets.resolve(url)


def test_a_host_whose_name_resolves_to_a_private_address_is_refused(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.0.0.5", 443))])
    with pytest.raises(targets.UnsafeTarget, match=r"hooks\.example\.com resolves to 10\.0\.0\.5, a private address"):
        targets.resolve("https://hooks.example.com/x")


def test_a_public_https_url_passes_and_the_checked_addresses_are_the_ones_connected_to(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: PUBLIC)
    assert targets.resolve("https://Hooks.Example.com:8443/in?x=1") == targets.Target(
        "https", "hooks.example.com", 8443, "/in?x=1", ("93.184.215.14",)
    )


def test_allowed_private_and_http_hosts_are_settings(settings):
    settings.CONFIG_WEBHOOK_ALLOW_PRIVATE = True
    settings.CONFIG_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    assert targets.resolve("http://127.0.0.1:9/x").addresses == ("127.0.0.1",)


@pytest.mark.django_db
def test_an_unsafe_url_is_refused_at_creation_naming_the_field(settings):
    with pytest.raises(ValidationError) as refused:
        webhooks.add_endpoint("meta", "https://169.254.169.254/", environments=["production"])
    assert "link-local" in refused.value.message_dict["url"][0]


@pytest.mark.django_db
def test_an_address_that_became_private_after_creation_is_refused_at_delivery(endpoint, receiver, settings):
    from configurations import services

    settings.CONFIG_WEBHOOK_ALLOW_PRIVATE = False  # as if the name now pointed inside the network
    services.set_value(category="smtp", key="port", environment="development", value="1", reason="t")
    webhooks.deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_error.startswith("refused: 127.0.0.1 resolves to 127.0.0.1, a loopback address")
    assert receiver.received == []


def test_at_most_64_kib_of_an_answer_is_read(receiver):
    receiver.status = 500
    receiver.response_body = b"x" * (10 * 1024 * 1024)
    answer = sender.post(receiver.url, b"{}", {}, timeout=5)
    assert answer == sender.Answer(500, "HTTP 500")


def test_a_receiver_that_does_not_answer_times_out(local_hooks):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        answer = sender.post(f"http://127.0.0.1:{listener.getsockname()[1]}/", b"{}", {}, timeout=0.5)
    finally:
        listener.close()
    assert answer.status is None and "timed out" in answer.error
