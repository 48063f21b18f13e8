"""Freshness across processes: real reader subprocesses with their watcher threads, on both databases."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from configurations import services
from tests.conftest import subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
BOUND = 5.0  # generous: the tight figures belong to benchmarks/runtime_freshness.py


class Reader:
    """A reader subprocess and the lines it printed, collected by a thread."""

    def __init__(self, *extra: str, **env_vars: str) -> None:
        env = subprocess_env(CONFIG_RUNTIME_WATCH="1", **env_vars)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.runtime_reader", "--seconds", "60", *extra],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._collect, daemon=True).start()
        self.wait_for(lambda line: line == "ready")

    def _collect(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def wait_for(self, predicate, timeout: float = BOUND) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if predicate(line):
                    return line
            time.sleep(0.005)
        raise AssertionError(f"not seen within {timeout}s; reader printed {self.lines[-5:]}")

    def values(self) -> list[str]:
        return [line.split()[0] for line in self.lines if line != "ready" and not line.startswith("heartbeat")]

    def kill(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=BOUND)

    def stop(self) -> str:
        services.set_value(category="runtime", key="probe", environment="test", value="stop")
        try:
            self.process.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:
            self.process.kill()
        return self.process.stderr.read()


@pytest.fixture
def probe(db):
    services.set_value(category="runtime", key="probe", environment="test", value="initial")


def test_committed_changes_reach_other_processes_and_rollbacks_never_do(probe):
    readers = [Reader() for _ in range(2)]
    try:
        for reader in readers:
            reader.wait_for(lambda line: line.startswith("initial "))
        with pytest.raises(RuntimeError), transaction.atomic():
            services.set_value(category="runtime", key="probe", environment="test", value="rolled-back")
            raise RuntimeError("abort")
        for value in ("first", "second"):
            written = time.monotonic()
            services.set_value(category="runtime", key="probe", environment="test", value=value)
            for reader in readers:
                seen_at = float(reader.wait_for(lambda line, v=value: line.startswith(f"{v} ")).split()[1])
                assert seen_at - written < BOUND
        # A raw SQL change is seen too.
        with connection.cursor() as cursor:
            cursor.execute("UPDATE system_configurations SET config_value = 'raw' WHERE config_key = 'probe'")
        for reader in readers:
            reader.wait_for(lambda line: line.startswith("raw "))
            assert "rolled-back" not in reader.values()
    finally:
        for reader in readers:
            reader.stop()


def _admin_connection():
    """A connection to the maintenance database, from which the test database can be shut off."""
    import psycopg

    s = connection.settings_dict
    return psycopg.connect(
        dbname="postgres",
        user=s["USER"] or None,
        password=s.get("PASSWORD") or None,
        host=s["HOST"] or None,
        port=s["PORT"] or None,
        autocommit=True,
    )


def _until_listening(admin, pid: int) -> None:
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        found = admin.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s", [f"configurations-watcher-{pid}"]
        ).fetchall()
        if found:
            return
        time.sleep(0.01)
    raise AssertionError(f"the reader {pid}'s watcher did not connect within {BOUND}s")


@pytest.mark.postgres
def test_reads_survive_an_outage_and_resync_after_it(probe):
    reader = Reader("--heartbeat", "0.1")
    database = connection.settings_dict["NAME"]
    admin = _admin_connection()
    try:
        reader.wait_for(lambda line: line.startswith("initial "))
        _until_listening(admin, reader.process.pid)  # the watcher thread connects after the first read
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [database])
        connection.close()  # ours was terminated too
        outage_started = time.monotonic()
        time.sleep(1.0)  # the database stays unreachable for a second: reads must go on
        beats = [
            line
            for line in reader.lines
            if line.startswith("heartbeat initial ") and float(line.split()[2]) > outage_started + 0.5
        ]
        assert beats, "reads stopped during the outage"
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        services.set_value(category="runtime", key="probe", environment="test", value="after-outage")
        reader.wait_for(lambda line: line.startswith("after-outage "), timeout=10)
    finally:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        admin.close()
        stderr = reader.stop()
    assert stderr.count("lost the database") == 1, stderr  # one warning for the whole outage
    assert "reconnected" in stderr


@pytest.mark.postgres
def test_a_restart_during_an_outage_serves_the_snapshot_saved_on_disk(probe, tmp_path):
    first = Reader(CONFIG_RUNTIME_SNAPSHOT_DIR=str(tmp_path))
    first.wait_for(lambda line: line.startswith("initial "))
    first.kill()  # the file it saved holds "initial"
    database = connection.settings_dict["NAME"]
    admin = _admin_connection()
    try:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [database])
        connection.close()
        restarted = Reader("--heartbeat", "0.1", CONFIG_RUNTIME_SNAPSHOT_DIR=str(tmp_path))
        restarted.wait_for(lambda line: line.startswith("initial "))  # from the file: the database is closed
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        services.set_value(category="runtime", key="probe", environment="test", value="after-restart")
        restarted.wait_for(lambda line: line.startswith("after-restart "), timeout=10)
    finally:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        admin.close()
    stderr = restarted.stop()
    assert "serving the test snapshot saved on disk" in stderr
