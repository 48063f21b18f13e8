"""Webhook delivery metrics, read from the database when /metrics is scraped: the dispatchers are other processes
(``deliver_webhooks``), so their own counters would never reach the web server's registry.

- ``configurations_webhook_deliveries{state}``: retained deliveries by state (pending, delivered, dead);
- ``configurations_webhook_failed_attempts``: failed attempts among the retained deliveries;
- ``configurations_webhook_lag_seconds``: age of the oldest change not yet delivered (an undispatched event or a
  pending delivery); 0 when everything is delivered.
"""

from __future__ import annotations

import datetime

from django.db import DatabaseError, connection
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

_STATES = ("pending", "delivered", "dead")
_COUNTS = """
SELECT state, count(*), COALESCE(sum(CASE WHEN state = 'delivered' THEN attempts - 1 ELSE attempts END), 0)
  FROM configuration_webhook_deliveries GROUP BY state
"""
_OLDEST = """
SELECT min(t) FROM (
  SELECT min(created_at) AS t FROM configuration_events WHERE dispatched_at IS NULL
  UNION ALL SELECT min(e.created_at) FROM configuration_webhook_deliveries d
    JOIN configuration_events e ON e.id = d.event_id WHERE d.state = 'pending') AS oldest
"""


class WebhookCollector:
    """The webhook gauges above, one query each per scrape."""

    def describe(self):
        """Nothing: describing would make registering collect, querying the database at import."""
        return []

    def collect(self):
        """Deliveries by state, failed attempts, and the delivery lag."""
        found = _read()
        if found is None:
            return
        rows, oldest, now = found
        deliveries = GaugeMetricFamily(
            "configurations_webhook_deliveries", "Retained webhook deliveries by state", labels=["state"]
        )
        by_state = {state: count for state, count, _ in rows}
        for state in _STATES:
            deliveries.add_metric([state], by_state.get(state, 0))
        yield deliveries
        failed = GaugeMetricFamily("configurations_webhook_failed_attempts", "Failed attempts of retained deliveries")
        failed.add_metric([], sum(int(failures) for _, _, failures in rows))
        yield failed
        lag = GaugeMetricFamily("configurations_webhook_lag_seconds", "Age of the oldest change not yet delivered")
        lag.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
        yield lag


def _read():
    try:
        with connection.cursor() as cursor:
            cursor.execute(_COUNTS)
            rows = cursor.fetchall()
            cursor.execute(_OLDEST)
            oldest = cursor.fetchone()[0]
    except DatabaseError:
        return None
    if isinstance(oldest, str):  # SQLite hands back the text of a computed min()
        oldest = datetime.datetime.fromisoformat(oldest).replace(tzinfo=datetime.UTC)
    return rows, oldest, timezone.now()
