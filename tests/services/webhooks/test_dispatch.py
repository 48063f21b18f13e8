"""Delivery against a real local HTTP receiver: signed, at least once, in order per key, never twice at once."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone
from standardwebhooks import Webhook

from configurations import services
from configurations.models import DeliveryState, WebhookDelivery
from configurations.services import webhooks
from configurations.services.webhooks import dispatch

pytestmark = pytest.mark.django_db


def _set(key: str, value: str, environment: str = "development") -> None:
    services.set_value(category="smtp", key=key, environment=environment, value=value, reason="webhook test")


def test_a_change_reaches_the_receiver_signed_as_standard_webhooks_verifies(endpoint, receiver):
    _set("port", "2525")
    report = webhooks.deliver_due()
    assert (report.events, report.delivered) == (1, 1)
    ((headers, body),) = receiver.received
    document = Webhook(endpoint.secret).verify(body, headers)  # raises unless the signature verifies
    assert document["type"] == "configuration.created"
    assert document["data"] | {"history_id": 0, "category_version": 0, "event_id": 0} == {
        "event_id": 0, "history_id": 0, "category_version": 0, "environment": "development", "category": "smtp",
        "key": "port", "value_type": "number", "secret": False, "value": 2525,
    }  # fmt: skip
    assert headers["webhook-id"] == f"evt_{document['data']['event_id']}"
    with pytest.raises(Exception, match="signature"):
        Webhook(webhooks.signing.new_secret()).verify(body, headers)  # another secret does not verify it


def test_events_outside_the_endpoints_filter_are_not_sent(endpoint, receiver):
    _set("port", "1", environment="staging")  # not subscribed
    endpoint.key_patterns = ["host"]
    webhooks.save_endpoint(endpoint)
    _set("port", "2")  # subscribed environment, key not matched
    _set("host", "mail.example")
    webhooks.deliver_due()
    assert [d["data"]["key"] for d in receiver.documents()] == ["host"]


def test_a_secret_value_is_never_in_a_payload(endpoint, receiver):
    _set("auth_pass", "hunter2-very-secret")
    _set("auth_pass", "hunter3-very-secret")
    webhooks.deliver_due()
    assert len(receiver.received) == 2
    for _, body in receiver.received:
        assert b"hunter" not in body and b"encrypted:" not in body
    assert [d["data"]["secret"] for d in receiver.documents()] == [True, True]
    assert all("value" not in d["data"] for d in receiver.documents())
    assert not WebhookDelivery.objects.filter(payload__contains="hunter").exists()


def test_a_receiver_down_then_up_gets_every_event_once_in_order_per_key(endpoint, receiver):
    receiver.stop()
    for port in ("1", "2", "3"):
        _set("port", port)
    _set("host", "a.example")
    report = webhooks.deliver_due()
    assert report.delivered == 0 and report.retrying == 2  # one per key: the later ones wait behind the first
    assert WebhookDelivery.objects.filter(attempts=0).count() == 2
    receiver.start()
    webhooks.deliver_due()  # the retries are not due yet
    assert receiver.received == []
    while webhooks.deliver_due(retry_before=timezone.now()).delivered:
        pass
    ports = [d["data"]["value"] for d in receiver.documents() if d["data"]["key"] == "port"]
    assert ports == [1, 2, 3]
    assert len(receiver.received) == 4
    assert WebhookDelivery.objects.filter(state=DeliveryState.DELIVERED).count() == 4
    history_ids = [d["data"]["history_id"] for d in receiver.documents()]
    assert len(set(history_ids)) == 4


def test_a_failing_receiver_is_retried_with_backoff_then_the_delivery_is_dead_and_can_be_replayed(
    endpoint, receiver, settings
):
    settings.CONFIG_WEBHOOK_MAX_ATTEMPTS = 3
    receiver.status = 500
    _set("port", "2525")
    webhooks.deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.response_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at > timezone.now() + datetime.timedelta(seconds=2)  # 5 s with jitter: 2.5 to 5
    for _ in range(2):
        webhooks.deliver_due(retry_before=timezone.now())
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("dead", 3, "HTTP 500")
    assert len({headers["webhook-id"] for headers, _ in receiver.received}) == 1  # stable across retries
    receiver.status = 200
    assert webhooks.replay([delivery.pk]) == 1
    assert webhooks.deliver_due().delivered == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 1)


def test_redirects_are_not_followed(endpoint, receiver):
    receiver.status = 302
    receiver.extra_headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
    _set("port", "1")
    webhooks.deliver_due()
    assert WebhookDelivery.objects.get().last_error == "HTTP 302: redirects are not followed"
    assert len(receiver.received) == 1


def test_the_backoff_doubles_with_jitter_up_to_an_hour():
    for attempts, base in ((1, 5), (2, 10), (5, 80), (20, 3600)):
        delays = [dispatch.backoff(attempts) for _ in range(50)]
        assert all(base / 2 <= d <= base for d in delays)
        assert len(set(delays)) > 1


def test_during_a_rotation_both_secrets_sign(endpoint, receiver):
    new = webhooks.rotate_secret(endpoint)
    _set("port", "1")
    webhooks.deliver_due()
    ((headers, body),) = receiver.received
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(body, headers)
    Webhook(endpoint.secret).verify(body, headers)


def test_a_paused_endpoint_receives_nothing_until_resumed(endpoint, receiver):
    endpoint.is_active = False
    webhooks.save_endpoint(endpoint)
    _set("port", "1")
    webhooks.deliver_due()
    assert receiver.received == [] and WebhookDelivery.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_never_send_a_delivery_twice(endpoint, receiver):
    for n in range(30):
        services.set_value(category="feature", key=f"k{n}", environment="development", value=str(n), reason="t")
    barrier = threading.Barrier(2)
    errors = []

    def dispatcher():
        try:
            barrier.wait()
            webhooks.deliver_due()
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ids = [headers["webhook-id"] for headers, _ in receiver.received]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert WebhookDelivery.objects.filter(state="delivered", attempts=1).count() == 30


def test_prune_keeps_pending_deliveries_and_recent_ones(endpoint, receiver, settings):
    settings.CONFIG_WEBHOOK_RETENTION_DAYS = 7
    _set("port", "1")
    webhooks.deliver_due()
    receiver.status = 500
    _set("port", "2")
    webhooks.deliver_due()
    assert webhooks.prune() == (0, 0)
    assert webhooks.prune(timezone.now() + datetime.timedelta(days=8)) == (1, 1)
    assert list(WebhookDelivery.objects.values_list("state", flat=True)) == ["pending"]


def test_an_endpoint_receives_only_what_happened_after_it_was_made(receiver):
    _set("port", "1")
    webhooks.add_endpoint("late", receiver.url)
    _set("port", "2")
    webhooks.deliver_due()
    assert [d["data"]["value"] for d in receiver.documents()] == [2]
