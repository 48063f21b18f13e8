"""/metrics shows webhook deliveries by state, failed attempts and the lag; a dead receiver leaves /readyz ready."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from configurations import runtime, services
from configurations.services import webhooks

pytestmark = pytest.mark.django_db


def _metrics(client) -> dict[str, float]:
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-1").content.decode()
    return {m[0]: float(m[1]) for m in re.findall(r"^(configurations_webhook_\S+) (\S+)$", text, re.MULTILINE)}


def test_deliveries_failures_and_lag_are_scraped_and_readyz_ignores_a_dead_receiver(
    client, settings, endpoint, receiver
):
    settings.CONFIG_METRICS_TOKEN = "scrape-token-1"
    settings.CONFIG_WEBHOOK_MAX_ATTEMPTS = 2
    assert _metrics(client)["configurations_webhook_lag_seconds"] == 0
    receiver.stop()
    services.set_value(category="smtp", key="port", environment="development", value="25", reason="t")
    services.set_value(category="smtp", key="host", environment="development", value="a.example", reason="t")
    webhooks.deliver_due()
    webhooks.deliver_due(retry_before=timezone.now())
    found = _metrics(client)
    assert found['configurations_webhook_deliveries{state="dead"}'] == 2
    assert found["configurations_webhook_failed_attempts"] == 4
    assert found["configurations_webhook_lag_seconds"] == 0  # dead deliveries are not waiting
    services.set_value(category="smtp", key="port", environment="development", value="26", reason="t")
    assert _metrics(client)["configurations_webhook_lag_seconds"] > 0  # an event not yet fanned out
    runtime.reload("development")
    assert client.get("/readyz").status_code == 200
    receiver.start()
    webhooks.deliver_due()
    found = _metrics(client)
    assert found['configurations_webhook_deliveries{state="delivered"}'] == 1
    assert found["configurations_webhook_lag_seconds"] == 0
