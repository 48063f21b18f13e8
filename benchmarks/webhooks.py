"""Webhooks (issue 25): what the outbox costs a bulk write, and how long a change takes to reach a receiver.

- outbox cost: a bulk ``UPDATE`` of 10,000 rows, committed, while a (paused) endpoint exists, so that the history
  trigger writes one outbox event per row, against the same UPDATE with no endpoint, when it writes none (migration
  0028), rounds interleaved; goal: at most 1.3x;
- delivery lag: a writer commits 50 changes/s through ``services.set_value`` for a few seconds while a dispatcher
  (``services.webhooks.run``: LISTEN on PostgreSQL, polling every 50 ms on SQLite) delivers them to a local
  receiver; lag = the receiver's 2xx minus the writer's commit, p50 and p99; beside it, the floor: a bare signed
  POST of the same body to the same receiver, p50.
"""

from __future__ import annotations

import json
import statistics
import threading
import time

ROWS = 10_000
ROUNDS = 3
RATE = 50  # changes per second
SECONDS = 6


def _bulk_update(value: str) -> float:
    from django.db import connection, transaction

    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE system_configurations SET config_value = %s WHERE category LIKE 'bulk%%'", [value])
    return time.perf_counter() - start


def _outbox_cost() -> dict[str, float]:
    from configurations.models import ConfigurationEvent, WebhookEndpoint

    _seed_rows()
    with_outbox, without = [], []
    for round_ in range(ROUNDS):
        without.append(_bulk_update(f"a{round_}"))
        endpoint = WebhookEndpoint.objects.create(name="outbox-cost", url="https://hooks.example/in", is_active=False)
        events = ConfigurationEvent.objects.count()
        with_outbox.append(_bulk_update(f"b{round_}"))
        assert ConfigurationEvent.objects.count() - events == ROWS, "one event per row while an endpoint exists"
        endpoint.delete()
    ratio = statistics.median(w / o for w, o in zip(with_outbox, without, strict=True))
    return {
        "bulk UPDATE 10,000 rows with the outbox (median ms)": statistics.median(with_outbox) * 1000,
        "the same without the outbox (median ms)": statistics.median(without) * 1000,
        "outbox cost (with / without, median of rounds; goal <= 1.3)": ratio,
    }


def _record(i: int):
    from configurations.core import formats

    return formats.Record(f"bulk{i % 10}", f"key_{i:05d}", "production", f"value {i}", where=f"bench:{i}")


def _seed_rows() -> None:
    from configurations import services

    services.import_records([_record(i) for i in range(ROWS)], reason="bench")


def _lag() -> dict[str, float]:
    from django.db import close_old_connections, connection
    from django.test.utils import override_settings

    from configurations import services
    from configurations.services import webhooks
    from configurations.services.webhooks import sender, signing
    from tests.webhook_receiver import Receiver

    arrivals: dict[str, float] = {}
    receiver = Receiver()
    with override_settings(CONFIG_WEBHOOK_ALLOW_PRIVATE=True, CONFIG_WEBHOOK_ALLOWED_HOSTS=["127.0.0.1"]):
        _, secret = webhooks.add_endpoint("bench", receiver.url, categories=["lag"])
        bare = []
        for i in range(100):
            body = json.dumps({"i": i}).encode()
            start = time.perf_counter()
            sender.post(receiver.url, body, signing.headers([secret], f"evt_{i}", int(time.time()), body), timeout=5)
            bare.append(time.perf_counter() - start)
        receiver.received.clear()
        stop = threading.Event()

        def dispatch():
            try:
                webhooks.run(stop=stop, interval=0.05 if connection.vendor == "sqlite" else 1.0)
            finally:
                close_old_connections()
                connection.close()

        receiver.on_receive = lambda item: arrivals.setdefault(
            json.loads(item[1])["data"]["value"], time.perf_counter()
        )
        webhooks.deliver_due()  # the events written before (the outbox cost's): not this endpoint's, fanned out now
        thread = threading.Thread(target=dispatch)
        thread.start()
        try:
            committed = _write_steadily()
            deadline = time.perf_counter() + 30
            while len(arrivals) < len(committed) and time.perf_counter() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            services.set_value(category="lag", key="stop", environment="staging", value="x", reason="b")  # wakes LISTEN
            thread.join(timeout=10)
    receiver.stop()
    lags = sorted(arrivals[v] - committed[v] for v in committed if v in arrivals)
    return {
        "delivered of sent": len(lags) / len(committed),
        "lag p50 (ms)": lags[len(lags) // 2] * 1000,
        "lag p90 (ms)": lags[int(len(lags) * 0.9)] * 1000,
        "lag p99 (ms)": lags[int(len(lags) * 0.99)] * 1000,
        "lag max (ms)": lags[-1] * 1000,
        "bare signed POST p50 (ms)": statistics.median(bare) * 1000,
        "lag p50 / bare POST p50": lags[len(lags) // 2] / statistics.median(bare),
    }


def _write_steadily() -> dict[str, float]:
    """RATE changes per second for SECONDS; each value and when its commit returned."""
    from configurations import services

    committed: dict[str, float] = {}
    began = time.perf_counter()
    for i in range(RATE * SECONDS):
        services.set_value(category="lag", key=f"k{i % 20}", environment="production", value=f"v{i}", reason="b")
        committed[f"v{i}"] = time.perf_counter()
        time.sleep(max(0.0, began + (i + 1) / RATE - time.perf_counter()))
    return committed


def run() -> dict[str, float]:
    return {**_outbox_cost(), **_lag()}
