"""The product's Prometheus metrics (prometheus-client), defined once, served by ``/metrics``.

Under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn.conf.py does it) counters and histograms are
summed over the workers by prometheus-client's multiprocess mode, and the runtime gauges (snapshot version, when
it was last known current, whether the watcher follows) are kept per live worker (``liveall``): one scrape shows
every worker, each with its pid, whichever worker answers it. Long polls have a histogram of their own, so that
their waits do not drown the request latencies.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from contextvars import ContextVar

from prometheus_client import Counter, Gauge, Histogram

WRITES = Counter(
    "configurations_writes", "Configuration rows written, after commit, by entry point and kind", ["path", "kind"]
)
HISTORY_ROWS = Counter(
    "configurations_history_rows", "History rows the triggers recorded for committed writes, by entry point", ["path"]
)
OPERATION_SECONDS = Histogram(
    "configurations_operation_seconds",
    "Duration of imports and template applications",
    ["operation"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RELOADS = Counter("configurations_runtime_reloads", "Runtime snapshot refreshes by the watcher", ["kind"])
RELOAD_SECONDS = Histogram(
    "configurations_runtime_reload_seconds",
    "Duration of runtime snapshot refreshes",
    ["kind"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
WATCHER_RECONNECTS = Counter("configurations_watcher_reconnects", "Times the runtime watcher reconnected")
NOTIFICATIONS = Counter("configurations_watcher_notifications", "Change notifications the runtime watcher received")
REQUEST_SECONDS = Histogram(
    "configurations_http_request_seconds",
    "Latency of admin and API requests",
    ["area", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

LONG_POLL_SECONDS = Histogram(
    "configurations_api_long_poll_seconds",
    "How long the API's long polls (changes/ with since) took, by status (200 changed, 304 nothing changed)",
    ["status"],
    buckets=(0.01, 0.1, 0.5, 1, 5, 10, 30, 60),
)
SNAPSHOT_VERSION = Gauge(
    "configurations_runtime_snapshot_version",
    "Newest history id in each worker's snapshot",
    ["environment"],
    multiprocess_mode="liveall",
)
SNAPSHOT_CONFIRMED = Gauge(
    "configurations_runtime_snapshot_confirmed_timestamp_seconds",
    "Unix time each worker last knew its snapshot current (time() minus it: the snapshot's age)",
    ["environment"],
    multiprocess_mode="liveall",
)
LONG_POLLS_WAITING = Gauge(
    "configurations_api_long_polls_waiting",
    "Long polls of the API's changes/ waiting now, summed over the live workers",
    multiprocess_mode="livesum",
)
WATCHER_CONNECTED = Gauge(
    "configurations_watcher_connected", "1 when the worker's watcher follows the database", multiprocess_mode="liveall"
)

_path: ContextVar[str] = ContextVar("configurations_write_path", default="other")


@contextlib.contextmanager
def write_path(name: str) -> Iterator[None]:
    """Writes inside the block count under ``name`` (admin, api, command)."""
    token = _path.set(name)
    try:
        yield
    finally:
        _path.reset(token)


def current_path() -> str:
    """Which write path is running (admin, api, command, ...), for the write counters."""
    return _path.get()


def counted_writes(created: int, updated: int, *, path: str) -> None:
    """Count rows written (call it on commit: a rolled-back write never happened)."""
    if created:
        _writes(path, "create").inc(created)
    if updated:
        _writes(path, "update").inc(updated)
    if created or updated:
        _history_rows(path).inc(created + updated)


@functools.cache
def _writes(path: str, kind: str):
    """The counter's child of these labels, looked up once (``labels`` validates them on every call)."""
    return WRITES.labels(path=path, kind=kind)


@functools.cache
def _history_rows(path: str):
    return HISTORY_ROWS.labels(path=path)
