"""The dispatcher as operators run it: ``deliver_webhooks`` (woken by NOTIFY on PostgreSQL, polling on SQLite),
``--once``, ``--retry-now``, ``--replay``; ``add_webhook`` and ``remove_webhook``."""

from __future__ import annotations

import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import close_old_connections, connection
from standardwebhooks import Webhook

from configurations import services
from configurations.models import WebhookDelivery, WebhookEndpoint
from configurations.services import webhooks


def _call(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_add_webhook_prints_the_secret_once_on_its_last_line_and_it_verifies(admin_user, receiver):
    out, _ = _call("add_webhook", "ops", "--url", receiver.url, "--environment", "staging", "--category", "smtp",
                   "--actor", admin_user.username)  # fmt: skip
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get(name="ops")
    assert (endpoint.environments, endpoint.categories) == (["staging"], ["smtp"])
    services.set_value(category="smtp", key="port", environment="staging", value="25", reason="t")
    out, _ = _call("deliver_webhooks", "--once")
    assert "1 delivered" in out
    ((headers, body),) = receiver.received
    Webhook(secret).verify(body, headers)
    _call("remove_webhook", "ops", "--actor", admin_user.username)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_the_commands_refuse_without_a_superuser_and_name_the_field(admin_user, receiver):
    with pytest.raises(CommandError, match="needs --actor"):
        _call("add_webhook", "ops", "--url", receiver.url, "--environment", "staging")
    with pytest.raises(CommandError, match=r"--url: .*https"):
        _call("add_webhook", "ops", "--url", "ftp://x", "--environment", "staging", "--actor", admin_user.username)
    with pytest.raises(CommandError, match="No webhook endpoint is named 'nope'"):
        _call("remove_webhook", "nope", "--actor", admin_user.username)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_retry_now_and_replay_from_the_command_line(endpoint, receiver, settings):
    settings.CONFIG_WEBHOOK_MAX_ATTEMPTS = 2
    receiver.status = 503
    services.set_value(category="smtp", key="port", environment="development", value="25", reason="t")
    out, err = _call("deliver_webhooks", "--once")
    assert "1 to retry" in out and "HTTP 503" in err
    out, _ = _call("deliver_webhooks", "--once")
    assert "0 delivered, 0 to retry, 0 dead" in out  # not due yet
    out, _ = _call("deliver_webhooks", "--once", "--retry-now")
    assert "1 dead" in out
    receiver.status = 200
    delivery = WebhookDelivery.objects.get()
    out, _ = _call("deliver_webhooks", "--once", "--replay", str(delivery.pk))
    assert "1 delivery(ies) queued again" in out and "1 delivered" in out


@pytest.mark.django_db(transaction=True)
def test_a_running_dispatcher_delivers_a_commit_within_moments(endpoint, receiver):
    stop = threading.Event()

    def dispatcher():
        try:
            webhooks.run(stop=stop, interval=0.2 if connection.vendor == "sqlite" else 30)
        finally:
            close_old_connections()
            connection.close()

    thread = threading.Thread(target=dispatcher)
    thread.start()
    try:
        time.sleep(0.5)  # listening (PostgreSQL: its NOTIFY wakes it long before the 30 s poll)
        services.set_value(category="smtp", key="port", environment="development", value="25", reason="t")
        deadline = time.monotonic() + 10
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.received) == 1
    finally:
        stop.set()
        if connection.vendor == "postgresql":  # wake it from its LISTEN
            services.set_value(category="smtp", key="port", environment="staging", value="1", reason="t")
        thread.join(timeout=35)
    assert not thread.is_alive()
