"""Cost of the history trigger: a bulk UPDATE of 10,000 configurations with and without it.

Both variants run in the same process against the same freshly migrated
database, alternating, so that caches and disk state treat them alike. "With trigger" is the
default install (no webhook endpoint: the outbox is not written); "with trigger and an endpoint"
adds a paused webhook endpoint, so that every history row also writes its outbox event.
"""

from __future__ import annotations

ROWS = 10_000
ROUNDS = 7


def _seed() -> None:
    from configurations.models import SystemConfiguration

    SystemConfiguration.objects.bulk_create(
        [SystemConfiguration(category="bench", config_key=f"key_{i:05d}", config_value="0") for i in range(ROWS)],
        batch_size=1000,
    )


def _bulk_update(*, touch: bool = False) -> None:
    from django.db import connection, transaction

    touch_sql = ", updated_at = CURRENT_TIMESTAMP" if touch else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE system_configurations SET config_value = CAST(CAST(config_value AS INTEGER) + 1 AS TEXT)"
            f"{touch_sql} WHERE category = 'bench'"
        )
        assert cursor.rowcount == ROWS


def _set_triggers(enabled: bool) -> None:
    from django.db import connection

    from configurations.data import installation

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE system_configurations {'ENABLE' if enabled else 'DISABLE'} TRIGGER USER")
    elif enabled:
        installation.reinstall_sqlite_triggers()
    else:
        installation.drop_sqlite_triggers()


def _recorded(*, events: int) -> list[float]:
    """One timed bulk UPDATE with the triggers, checking what it recorded."""
    from configurations.models import ConfigurationEvent, ConfigurationHistory

    from .harness import timed

    history, outbox = ConfigurationHistory.objects.count(), ConfigurationEvent.objects.count()
    took = timed(_bulk_update, rounds=1)
    assert ConfigurationHistory.objects.count() - history == ROWS, "every row must be recorded once"
    assert ConfigurationEvent.objects.count() - outbox == events, "one event per row while an endpoint exists"
    return took


def run() -> dict[str, float]:
    from configurations.models import WebhookEndpoint

    from .harness import median_ms, timed

    _seed()
    with_trigger, with_endpoint, without_trigger, without_but_touching = [], [], [], []
    for _ in range(ROUNDS):
        _set_triggers(False)
        without_trigger += timed(_bulk_update, rounds=1)
        without_but_touching += timed(lambda: _bulk_update(touch=True), rounds=1)
        _set_triggers(True)
        with_trigger += _recorded(events=0)
        endpoint = WebhookEndpoint.objects.create(name="bench", url="https://hooks.example/in", is_active=False)
        with_endpoint += _recorded(events=ROWS)
        endpoint.delete()
    return {
        "rows": ROWS,
        "without trigger (ms)": median_ms(without_trigger),
        "without trigger, statement sets updated_at (ms)": median_ms(without_but_touching),
        "with trigger (ms)": median_ms(with_trigger),
        "ratio": median_ms(with_trigger) / median_ms(without_trigger),
        "with trigger and an endpoint (ms)": median_ms(with_endpoint),
        "ratio with an endpoint": median_ms(with_endpoint) / median_ms(without_trigger),
    }
