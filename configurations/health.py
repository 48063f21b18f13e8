"""``/healthz``, ``/readyz`` and ``/metrics``: for load balancers, orchestrators and Prometheus (docs/operations.md).

- ``/healthz``: the process answers; no database, no authentication.
- ``/readyz``: the database answers, every migration is applied, the runtime snapshot of CONFIG_ENVIRONMENT is
  loaded and (when watching) the watcher follows the database. 200 or 503, JSON, with this process's pid and,
  per loaded environment, its version and seconds since it was last known current. No authentication and
  nothing secret: ids and counts only. One ``SELECT 1`` per probe once migrations were seen applied.
- ``/metrics``: Prometheus text, only with ``Authorization: Bearer $CONFIG_METRICS_TOKEN``; 404 while that
  variable is unset, so an unconfigured deployment does not even show that it exists.
"""

from __future__ import annotations

import gc
import hmac
import os

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from . import conf, runtime
from .data import availability
from .observability.webhook_metrics import WebhookCollector
from .services import partitions

_migrations_applied = False


@never_cache
@require_GET
def healthz(request):
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok", "pid": os.getpid()})


@never_cache
@require_GET
def readyz(request):
    """Readiness: the database, the migrations and the runtime, each as far as is known."""
    database = _database()
    # What is known, not what could not be asked: migrations seen applied stay applied; a snapshot in memory is
    # served whether or not the database answers now; null is "cannot tell while the database is away".
    migrations = _migrations() if database else (True if _migrations_applied else None)
    checks = {
        "database": database,
        "migrations": migrations,
        "snapshot": _snapshot(can_load=bool(database and migrations)),
        "watcher": runtime.wait_until_following(1.0) if conf.runtime_watch() else True,
    }
    state = runtime.status()
    ready = all(value is True for value in checks.values())
    stale = runtime.stale_for()
    body = {
        "status": "ok" if ready else "unavailable",
        "pid": os.getpid(),
        "checks": checks,
        "serving": "nothing" if not checks["snapshot"] else "stale" if stale is not None else "current",
        "environments": state["environments"],
        "snapshot_loads": {"full": state["full_loads"], "deltas": state["deltas"]},  # by this process
        "gc_frozen": gc.get_freeze_count(),  # objects kept out of the collector (gunicorn.conf.py freezes at start)
    }
    response = JsonResponse(body, status=200 if ready else 503)
    if not ready:
        # Not a server error: the checks above logged what failed once; probes every second must not flood the log.
        response._has_been_logged = True
    return response


def _database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError as error:
        availability.failed(error)  # logged once per outage, not once per probe
        connection.close()  # the next probe connects afresh
        return False


def _migrations() -> bool:
    global _migrations_applied
    if not _migrations_applied:
        executor = MigrationExecutor(connection)
        _migrations_applied = not executor.migration_plan(executor.loader.graph.leaf_nodes())
    return _migrations_applied


def _snapshot(*, can_load: bool) -> bool:
    if runtime.has_snapshot():
        return True
    if not can_load:
        return False
    try:
        runtime.snapshot()  # loads CONFIG_ENVIRONMENT's snapshot (and starts the watcher) on first probe
        return True
    except DatabaseError:
        return False


@never_cache
@require_GET
def metrics(request):
    """Prometheus metrics, behind CONFIG_METRICS_TOKEN (404 without one)."""
    expected = conf.metrics_token()
    if not expected:
        raise Http404
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


class ChainHeadCollector:
    """The history chain's head id, read at scrape time. Its hash is not a label (a new series on every write):
    pin it with ``verify_history``, which prints ID:HASH."""

    def describe(self):
        """Nothing: describing would make registering collect, querying the database at import."""
        return []  # or registering would collect once, querying the database at import

    def collect(self):
        """The history chain head's id, and the rows the history's default partition holds, read when /metrics is
        scraped."""
        head = _chain_head()
        if head is not None:
            gauge = GaugeMetricFamily("configurations_history_head", "The history chain's last row id")
            gauge.add_metric([], head[0] or 0)
            yield gauge
        held = _default_partition_rows()
        if held is not None:
            gauge = GaugeMetricFamily(
                "configurations_history_default_partition_rows",
                "History rows outside every month's partition (PostgreSQL): run history_partitions when above 0",
            )
            gauge.add_metric([], held)
            yield gauge


def _chain_head() -> tuple[int | None, str | None] | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT last_id, last_hash FROM configuration_history_head WHERE id = 1")
            return cursor.fetchone()
    except DatabaseError:
        return None


def _default_partition_rows() -> int | None:
    try:
        return partitions.default_rows()
    except DatabaseError:
        return None


_head_collector = ChainHeadCollector()
_webhook_collector = WebhookCollector()
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    REGISTRY.register(_head_collector)
    REGISTRY.register(_webhook_collector)


def _registry():
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(_head_collector)
    registry.register(_webhook_collector)
    return registry
