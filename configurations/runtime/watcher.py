"""The thread that keeps a process's configuration snapshots fresh (see configurations.runtime).

PostgreSQL: a dedicated connection LISTENs on ``configurations_changed`` (sent by a trigger when a change
commits) and applies the delta (``snapshots.refresh``) when notified. SQLite: a dedicated connection polls the
change counter that triggers maintain. After any failure the watcher logs one warning, keeps the last snapshots,
reconnects with backoff and loads everything again, since notifications sent while it was away are lost.

The LISTEN connection is the default database's, or ``CONFIG_RUNTIME_LISTEN_URL``'s: LISTEN needs a session that
stays on one server connection, which a transaction-pooling PgBouncer does not give.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time

from django.db import connection as django_connection

from .. import conf
from ..data import listening, queries
from ..observability import metrics
from .snapshots import refresh, store
from .tokens import tokens

logger = logging.getLogger(__name__)
MAX_BACKOFF = 2.0


class Watcher(threading.Thread):
    """A thread that follows the database's changes and refreshes the snapshots."""

    def __init__(self) -> None:
        super().__init__(name="configurations-watcher", daemon=True)
        self.environments: set[str] = set()
        self.settings = dict(conf.runtime_listen_settings() or django_connection.settings_dict)
        self.vendor = django_connection.vendor
        self._stop_event = threading.Event()
        self._connection = None
        self.in_outage = False
        self._connected = False
        self.first_sync = threading.Event()  # set once the first connection has loaded everything

    @property
    def connected(self) -> bool:
        return self._connected

    @connected.setter
    def connected(self, value: bool) -> None:
        self._connected = value
        metrics.WATCHER_CONNECTED.set(1 if value else 0)

    def add(self, environment: str) -> None:
        self.environments.add(environment)

    def stop(self) -> None:
        self._stop_event.set()
        if self.vendor == "postgresql":
            self._close()  # interrupts a wait for notifications; an SQLite connection is closed by its own thread
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=5)

    def run(self) -> None:
        backoff = 0.05
        first = True
        while not self._stop_event.is_set():
            try:
                self._connect()
                if not first:
                    store.seen = None  # what was sent while away is lost: load everything again
                    metrics.WATCHER_RECONNECTS.inc()
                first = False
                self._refresh()
                self._reload_tokens()
                self.connected = True
                self.first_sync.set()
                self._recovered()
                backoff = 0.05
                self._follow()
            except Exception as error:
                self.connected = False
                if self._stop_event.is_set():
                    break
                self._outage(error)
                self._close()
                self._stop_event.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        self.connected = False
        self._close()

    # ---------------------------------------------------------------------- connection

    def _connect(self) -> None:
        if self.vendor == "postgresql":
            self._connection = listening.listen(self.settings, "watcher", tokens=True)
        else:
            self._connection = sqlite3.connect(str(self.settings["NAME"]), timeout=5, check_same_thread=False)
            self._connection.isolation_level = None

    def _close(self) -> None:
        conn, self._connection = self._connection, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing a connection that is already broken
                conn.close()

    def _query(self, sql: str, params) -> list[tuple]:
        if self.vendor != "postgresql":
            sql = sql.replace("%s", "?")
        return self._connection.execute(sql, list(params)).fetchall()

    # ----------------------------------------------------------------------- following

    def _follow(self) -> None:
        if self.vendor == "postgresql":
            self._follow_notifications()
        else:
            last = self._counter()
            while not self._stop_event.wait(conf.runtime_poll_interval()):
                current = self._counter()
                if current != last:
                    last = current
                    metrics.NOTIFICATIONS.inc()
                    self._refresh()
                    self._reload_tokens()
                else:
                    store.confirm(self.environments)

    def _follow_notifications(self) -> None:
        spacing, refreshed = conf.runtime_refresh_spacing(), float("-inf")
        while not self._stop_event.is_set():
            # Wake at least every second to notice stop() and a dead connection; drain bursts into one refresh.
            notified = list(self._connection.notifies(timeout=1.0, stop_after=1))
            if not notified:
                self._connection.execute(queries.ALIVE_SQL)  # notices a dead connection
                store.confirm(self.environments)
                continue
            # Under a stream of commits, at most one refresh per `spacing`: what is committed meanwhile joins the next.
            pause = refreshed + spacing - time.monotonic()
            if pause > 0 and _on(queries.CHANNEL, notified):
                notified += self._held_back(pause)
            notified += self._connection.notifies(timeout=0)  # what already arrived
            metrics.NOTIFICATIONS.inc(len(notified))
            if _on(queries.CHANNEL, notified):
                refreshed = time.monotonic()
                self._refresh()
            if _on(queries.TOKENS_CHANNEL, notified):
                self._reload_tokens()

    def _held_back(self, pause: float) -> list:
        """Not listening to the values' channel for ``pause`` seconds: each commit meanwhile would wake this thread
        (and make the database send it a notification) for a refresh that waits anyway, and the refresh after the
        pause reads from the history what they changed. A token's change, on its own channel, still arrives and ends
        the pause (never held back). What arrived, tokens' or sent before the pause began."""
        self._connection.execute(queries.UNLISTEN_SQL)
        arrived = []
        for notification in self._connection.notifies(timeout=pause):
            arrived.append(notification)
            if notification.channel == queries.TOKENS_CHANNEL:
                break
        # Listening again before the refresh reads the history: whatever commits after it is notified.
        self._connection.execute(queries.LISTEN_SQL)
        return arrived

    def _counter(self) -> int:
        return self._connection.execute(queries.CHANGE_COUNTER_SQL).fetchone()[0]

    def _reload_tokens(self) -> None:
        with store.refresh_lock:
            if tokens.wanted:
                tokens.load(self._query)

    def _refresh(self) -> None:
        started = time.perf_counter()
        full_loads = store.full_loads
        refresh(self._query, sorted(self.environments))
        kind = "full" if store.full_loads != full_loads else "delta"
        metrics.RELOADS.labels(kind=kind).inc()
        metrics.RELOAD_SECONDS.labels(kind=kind).observe(time.perf_counter() - started)

    # ---------------------------------------------------------------------- reporting

    def _outage(self, error: Exception) -> None:
        if not self.in_outage:
            self.in_outage = True
            logger.warning(
                "Configuration watcher lost the database (%s); serving the last snapshot until it is back.",
                type(error).__name__,
            )

    def _recovered(self) -> None:
        if self.in_outage:
            self.in_outage = False
            logger.warning("Configuration watcher reconnected; snapshots resynced.")


def _on(channel: str, notified: list) -> bool:
    """Whether one of the notifications came on ``channel`` (the values' and metadata's, or the tokens')."""
    return any(notification.channel == channel for notification in notified)
