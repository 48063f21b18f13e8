"""Endpoints: superusers only, every change recorded with who and why, the signing secret encrypted and shown once."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from configurations.models import WebhookEndpoint, WebhookSecret
from configurations.services import webhooks
from tests.factories import editor_of

pytestmark = pytest.mark.django_db


def test_creating_changing_and_removing_an_endpoint_is_recorded_with_who_and_why(admin_user, local_hooks):
    endpoint, _ = webhooks.add_endpoint(
        "ops", "http://127.0.0.1:9/in", environments=["production"], actor=admin_user, reason="ops alerts"
    )
    endpoint.categories = ["smtp"]
    webhooks.save_endpoint(endpoint, actor=admin_user, reason="only smtp")
    webhooks.remove_endpoint("ops", actor=admin_user, reason="retired")
    records = list(WebhookEndpoint.history.order_by("history_id").values_list(
        "history_type", "history_user_id", "history_change_reason", "categories"))  # fmt: skip
    assert records == [
        ("+", admin_user.pk, "ops alerts", []),
        ("~", admin_user.pk, "only smtp", ["smtp"]),
        ("-", admin_user.pk, "retired", ["smtp"]),
    ]


def test_the_secret_is_stored_encrypted_and_never_in_the_endpoints_history(admin_user, local_hooks):
    endpoint, secret = webhooks.add_endpoint("ops", "http://127.0.0.1:9/in", actor=admin_user)
    stored = WebhookSecret.objects.get(endpoint=endpoint).secret
    assert stored.startswith("encrypted:") and secret not in stored
    assert webhooks.live_secrets(endpoint.pk) == [secret]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM configuration_webhook_endpoints_changes")
        assert secret not in repr(cursor.fetchall())


def test_only_a_superuser_manages_endpoints(local_hooks):
    staff = editor_of("production", username="staffer")
    with pytest.raises(PermissionDenied):
        webhooks.add_endpoint("x", "http://127.0.0.1:9/", actor=staff)
    endpoint, _ = webhooks.add_endpoint("x", "http://127.0.0.1:9/")
    for attempt in (
        lambda: webhooks.save_endpoint(endpoint, actor=staff),
        lambda: webhooks.remove_endpoint("x", actor=staff),
        lambda: webhooks.rotate_secret(endpoint, actor=staff),
        lambda: webhooks.send_test_event(endpoint, actor=staff),
    ):
        with pytest.raises(PermissionDenied):
            attempt()
    assert WebhookEndpoint.objects.filter(name="x").exists()


def test_every_problem_of_an_endpoint_is_reported_by_field(local_hooks):
    with pytest.raises(ValidationError) as refused:
        webhooks.add_endpoint(
            "bad", "gopher://x", environments=["prod"], event_types=["configuration.exploded"], key_patterns=[""]
        )
    assert set(refused.value.message_dict) == {"url", "environments", "event_types", "key_patterns"}
    assert "prod" in refused.value.message_dict["environments"][0]
    assert not WebhookEndpoint.objects.exists()


def test_a_test_event_goes_to_its_endpoint_only(endpoint, receiver):
    other, _ = webhooks.add_endpoint("other", receiver.url)
    webhooks.send_test_event(endpoint)
    webhooks.deliver_due()
    (document,) = receiver.documents()
    assert document["type"] == "webhook.test" and document["data"]["subject"] == "hooks"
    assert other.deliveries.count() == 0
