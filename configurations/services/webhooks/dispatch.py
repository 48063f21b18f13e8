"""The dispatcher's steps: fan the outbox out into deliveries, claim what is due, send it, record what came of it.

- **Fan-out** takes the undispatched events in id order (one dispatcher at a time: a transaction-level lock on
  PostgreSQL, the database's write lock on SQLite), builds each body once and writes one delivery per matching
  active endpoint that existed when the event happened. Events of one key are committed in id order (the
  category's write lock), so their deliveries are created in order.
- **Claim**: a due delivery is leased to one dispatcher (``claimed_until``) in one statement; on PostgreSQL its
  subquery takes the rows ``FOR UPDATE SKIP LOCKED``, so concurrent dispatchers never claim the same one. A
  delivery waits while an earlier one of the same key to the same endpoint is pending: in order per key.
- **Attempt**: signed (signing.py) with every live secret, ``webhook-id`` ``evt_<event id>`` stable across
  retries; 2xx delivers; anything else retries after an exponential backoff with jitter (5 s doubling to 1 h)
  until ``CONFIG_WEBHOOK_MAX_ATTEMPTS``, then the delivery is dead (``replay`` starts it again).
"""

from __future__ import annotations

import datetime
import random
import time
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ... import conf
from ...data.models import ConfigurationEvent, DeliveryState, WebhookDelivery, WebhookEndpoint
from . import endpoints, payloads, sender, signing

FAN_OUT_BATCH = 500
CLAIM_BATCH = 50
BASE_DELAY = 5.0
MAX_DELAY = 3600.0
LEASE_MARGIN = 30.0
# One fan-out at a time: a transaction-level lock on PostgreSQL; SQLite's write lock, taken before anything is read
# (a transaction that read first could not take it while another dispatcher writes).
_FAN_OUT_LOCKS = {
    "postgresql": ("SELECT pg_advisory_xact_lock(%s)", [0x7765_6268_6F6F_6B73]),
    "sqlite": ("UPDATE configuration_change_counter SET value = value WHERE id = 1", []),
}


def fan_out(limit: int = FAN_OUT_BATCH) -> int:
    """One delivery per matching endpoint for up to ``limit`` undispatched events; returns the events taken."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(*_FAN_OUT_LOCKS.get(connection.vendor, _FAN_OUT_LOCKS["sqlite"]))
        events = list(ConfigurationEvent.objects.filter(dispatched_at__isnull=True).order_by("id")[:limit])
        if not events:
            return 0
        known = {endpoint.pk: endpoint for endpoint in WebhookEndpoint.objects.all()}
        planned = [(event, _subscribers(event, known)) for event in events]
        planned = [(event, chosen) for event, chosen in planned if chosen]
        histories = payloads.histories_of([event for event, _ in planned])
        deliveries = []
        for event, chosen in planned:
            body = payloads.body(event, histories.get(event.history_id)).decode()
            order_key = _order_key(event)
            deliveries += [
                WebhookDelivery(endpoint=e, event=event, event_type=event.event_type, order_key=order_key, payload=body)
                for e in chosen
            ]
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        ConfigurationEvent.objects.filter(id__in=[event.pk for event in events]).update(dispatched_at=timezone.now())
    return len(events)


def _subscribers(event: ConfigurationEvent, known: dict[int, WebhookEndpoint]) -> list[WebhookEndpoint]:
    """A test event's endpoint; else the active endpoints that existed when it happened and match it."""
    if event.endpoint_id is not None:
        return [known[event.endpoint_id]] if event.endpoint_id in known else []
    return [
        endpoint for endpoint in known.values()
        if endpoint.is_active and event.created_at >= endpoint.created_at
        and endpoints.matches(endpoint, event.event_type, event.environment, event.category, event.config_key)
    ]  # fmt: skip


def _order_key(event: ConfigurationEvent) -> str:
    return "\x1f".join(str(part or "") for part in (event.environment, event.category, event.config_key))


def lease_seconds() -> float:
    """How long a claim holds: longer than any attempt can take (connect and read timeouts, with a margin)."""
    return 2 * conf.webhook_timeout() + LEASE_MARGIN


Lease = tuple[int, datetime.datetime]


def claim(limit: int = CLAIM_BATCH, *, retry_before: datetime.datetime | None = None) -> list[Lease]:
    """Lease up to ``limit`` due deliveries to this dispatcher: (id, lease) pairs. ``retry_before``: a waiting retry
    whose last attempt was before then counts as due now (``--retry-now``)."""
    now = timezone.now()
    lease = now + datetime.timedelta(seconds=lease_seconds())
    due = "d.next_attempt_at <= %s" + (" OR d.last_attempt_at < %s" if retry_before else "")
    moments = [_stored(moment) for moment in (lease, now, now, *([retry_before] if retry_before else []))]
    skip_locked = " FOR UPDATE OF d SKIP LOCKED" if connection.vendor == "postgresql" else ""
    sql = f"""
UPDATE configuration_webhook_deliveries SET claimed_until = %s
 WHERE id IN (
  SELECT d.id FROM configuration_webhook_deliveries d
    JOIN configuration_webhook_endpoints p ON p.id = d.endpoint_id AND p.is_active
   WHERE d.state = 'pending' AND (d.claimed_until IS NULL OR d.claimed_until < %s) AND ({due})
     AND NOT EXISTS (SELECT 1 FROM configuration_webhook_deliveries e
                      WHERE e.endpoint_id = d.endpoint_id AND e.order_key = d.order_key AND e.state = 'pending'
                        AND e.event_id < d.event_id)
   ORDER BY d.event_id LIMIT %s{skip_locked})
RETURNING id"""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [*moments, limit])
        return [(row[0], lease) for row in cursor.fetchall()]


def _stored(moment: datetime.datetime):
    """A time as the ORM stores it (on SQLite: text that compares in order with the column's)."""
    return connection.ops.adapt_datetimefield_value(moment)


class Outcome(NamedTuple):
    """One attempt: the delivery, its state after it, and what the receiver answered."""

    delivery_id: int
    state: str
    answer: sender.Answer


def attempt(delivery_id: int, lease: datetime.datetime) -> Outcome:
    """Send one claimed delivery and record the outcome (unless its lease was lost meanwhile)."""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    body = delivery.payload.encode()
    headers = signing.headers(
        endpoints.live_secrets(delivery.endpoint_id), f"evt_{delivery.event_id}", int(time.time()), body
    )
    answer = sender.post(delivery.endpoint.url, body, headers, timeout=conf.webhook_timeout())
    return Outcome(delivery_id, _record(delivery, lease, answer), answer)


def _record(delivery: WebhookDelivery, lease: datetime.datetime, answer: sender.Answer) -> str:
    now = timezone.now()
    attempts = delivery.attempts + 1
    fields = {"attempts": attempts, "last_attempt_at": now, "claimed_until": None, "response_code": answer.status}
    fields["last_error"] = answer.error[:2000]
    if answer.ok:
        fields.update(state=DeliveryState.DELIVERED, delivered_at=now)
    elif attempts >= conf.webhook_max_attempts():
        fields.update(state=DeliveryState.DEAD)
    else:
        fields.update(next_attempt_at=now + datetime.timedelta(seconds=backoff(attempts)))
    WebhookDelivery.objects.filter(pk=delivery.pk, claimed_until=lease).update(**fields)
    return fields.get("state", DeliveryState.PENDING)


def backoff(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failures: doubling from 5 s, at most 1 h, with jitter
    (half fixed, half random) so that a receiver coming back is not hit by every retry at once."""
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** (attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def replay(delivery_ids: list[int]) -> int:
    """Start dead (or failing) deliveries again from their first attempt; returns how many."""
    return (
        WebhookDelivery.objects.filter(pk__in=delivery_ids)
        .exclude(state=DeliveryState.DELIVERED)
        .update(
            state=DeliveryState.PENDING, attempts=0, next_attempt_at=timezone.now(), claimed_until=None, last_error=""
        )
    )


def prune(now: datetime.datetime | None = None) -> tuple[int, int]:
    """Delete finished deliveries and dispatched events older than ``CONFIG_WEBHOOK_RETENTION_DAYS`` (an event
    only once none of its deliveries is left); returns (deliveries, events) deleted."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=conf.webhook_retention_days())
    finished = WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(state=DeliveryState.PENDING)
    deliveries = finished._raw_delete(finished.db)
    kept = WebhookDelivery.objects.filter(event=OuterRef("pk"))
    old = ConfigurationEvent.objects.filter(dispatched_at__isnull=False, created_at__lt=cutoff).exclude(Exists(kept))
    return deliveries, old._raw_delete(old.db)
