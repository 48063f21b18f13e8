"""The thread that keeps a process's configuration snapshots fresh (see configurations.runtime).

PostgreSQL: a dedicated connection LISTENs on ``configurations_changed`` (sent by a trigger when a change
commits) and reloads the watched environments when notified. SQLite: a dedicated connection polls the change
counter that triggers maintain. After any failure the watcher logs one warning, keeps the last snapshots,
reconnects with backoff and resyncs everything, since notifications sent while it was away are lost.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading

import psycopg
from django.db import connection as django_connection

from ..core import conf
from .snapshots import SNAPSHOT_SQL, install

logger = logging.getLogger(__name__)
CHANNEL = "configurations_changed"
MAX_BACKOFF = 2.0


class Watcher(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="configurations-watcher", daemon=True)
        self.environments: set[str] = set()
        self.settings = dict(django_connection.settings_dict)
        self.vendor = django_connection.vendor
        self._stop_event = threading.Event()
        self._connection = None
        self.in_outage = False

    def add(self, environment: str) -> None:
        self.environments.add(environment)

    def stop(self) -> None:
        self._stop_event.set()
        self._close()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=5)

    def run(self) -> None:
        backoff = 0.05
        while not self._stop_event.is_set():
            try:
                self._connect()
                self._resync()
                self._recovered()
                backoff = 0.05
                self._follow()
            except Exception as error:
                if self._stop_event.is_set():
                    break
                self._outage(error)
                self._close()
                self._stop_event.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        self._close()

    # ---------------------------------------------------------------------- connection

    def _connect(self) -> None:
        if self.vendor == "postgresql":
            s = self.settings
            self._connection = psycopg.connect(
                dbname=s["NAME"],
                user=s.get("USER") or None,
                password=s.get("PASSWORD") or None,
                host=s.get("HOST") or None,
                port=s.get("PORT") or None,
                autocommit=True,
                connect_timeout=5,
                application_name="configurations-watcher",
            )
            self._connection.execute(f"LISTEN {CHANNEL}")
        else:
            self._connection = sqlite3.connect(str(self.settings["NAME"]), timeout=5, check_same_thread=False)
            self._connection.isolation_level = None

    def _close(self) -> None:
        conn, self._connection = self._connection, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing a connection that is already broken
                conn.close()

    # ----------------------------------------------------------------------- following

    def _follow(self) -> None:
        if self.vendor == "postgresql":
            while not self._stop_event.is_set():
                # Wake at least every second to notice stop(); drain bursts into one resync.
                notified = list(self._connection.notifies(timeout=1.0, stop_after=1))
                if notified:
                    list(self._connection.notifies(timeout=0))  # drain what already arrived
                    self._resync()
                else:
                    self._connection.execute("SELECT 1")  # notices a dead connection
        else:
            last = self._counter()
            while not self._stop_event.wait(conf.runtime_poll_interval()):
                current = self._counter()
                if current != last:
                    last = current
                    self._resync()

    def _counter(self) -> int:
        return self._connection.execute("SELECT value FROM configuration_change_counter WHERE id = 1").fetchone()[0]

    def _resync(self) -> None:
        for env in list(self.environments):
            if self.vendor == "postgresql":
                rows = self._connection.execute(SNAPSHOT_SQL, [env]).fetchall()
            else:
                rows = self._connection.execute(SNAPSHOT_SQL.replace("%s", "?"), [env]).fetchall()
            install(env, rows)

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
