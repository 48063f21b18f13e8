"""5,000 long polls held open on `make serve`'s ASGI server, in one run against a bare view.

Two uvicorn workers under gunicorn. Measured: the bare view and the category GET with no poll waiting (8 client
threads, a fixed time each); then 5,000 long polls of ``changes/`` from another process (benchmarks/waiters.py), and
while they all wait (the servers' own gauge says so) the category GET and the bare view again, the workers' threads
and their database connections; then a commit, and how long after it each waiting client had its answer; every
client polls again with the version it got, and once all wait again the next commit, for LONG_POLL_ROUNDS (3).
``python benchmarks/run.py long_polls --engine postgres``."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .api import measure, percentile
from .load import CLIENTS, _server_env

SETTINGS = "tests.serving_settings"
WAITERS = int(os.environ.get("LONG_POLL_WAITERS", "5000"))
WORKERS = 2
TOKENS = 10
ROUNDS = int(os.environ.get("LONG_POLL_ROUNDS", "3"))  # commits, each answering every waiting poll
ROOT = Path(__file__).resolve().parent.parent


def _waiting(server) -> int:
    from tests.servers import get

    text = get(server.url + "/metrics", headers={"Authorization": "Bearer bench-metrics"}).text
    lines = [line for line in text.splitlines() if line.startswith("configurations_api_long_polls_waiting")]
    return int(sum(float(line.split()[-1]) for line in lines))


def _footprint(server) -> tuple[int, int]:
    """The workers' threads, and their database connections (PostgreSQL; 0 on SQLite)."""
    from django.db import connection

    pids = server.worker_pids()
    threads = sum(len(os.listdir(f"/proc/{pid}/task")) for pid in pids)
    if connection.vendor != "postgresql":
        return threads, 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'configurations%'")
        names = [name for (name,) in cursor.fetchall()]
    return threads, sum(1 for name in names if int(name.rsplit("-", 1)[1]) in pids)


def _while_waiting(server, category: str, auth: dict, figures: dict) -> None:
    figures["threads, all waiting"], figures["db connections, all waiting"] = _footprint(server)
    measure(figures, "category GET, all waiting", category, auth)
    measure(figures, "bare view, all waiting", server.url + "/test/bare", {})
    figures["still waiting after the reads"] = _waiting(server)


def _until(waiters, wanted) -> dict:
    """The waiters' next line that is ``wanted`` (an event or the whole line)."""
    for line in waiters.stdout:
        event = json.loads(line)
        if event == wanted or event.get("event") == wanted:
            return event
    raise AssertionError(f"the waiters ended before {wanted!r}")


def _latencies(done: dict, committed: list[float], figures: dict) -> None:
    """Per round, commit -> each client's 200; p99 as min/median/max over the rounds."""
    p99s = []
    for round_, (answers, at) in enumerate(zip(done["answers"], committed, strict=True), 1):
        latencies = [(answer - at) * 1000 for answer in answers] or [float("inf")]
        p99s.append(percentile(latencies, 0.99))
        figures[f"round {round_}: answered, p50 / p99 / max (ms)"] = (
            f"{len(answers)}, {statistics.median(latencies):.0f} / {p99s[-1]:.0f} / {max(latencies):.0f}"
        )
    figures["answer after commit p99, min / median / max over rounds (ms)"] = (
        f"{min(p99s):.0f} / {statistics.median(p99s):.0f} / {max(p99s):.0f}"
    )
    figures["client statuses"] = json.dumps(done["statuses"])
    figures["client errors"] = done["errors"] + done["unanswered"]


def run() -> dict[str, float]:
    from configurations import services
    from configurations.services import tokens
    from tests.factories import editor_of
    from tests.servers import Gunicorn, get

    owner = editor_of("development", username="bench")
    for i in range(20):
        services.set_value(category="smtp", key=f"key{i:02}", environment="development", value=str(i))
    plaintexts = [
        tokens.create_token(name=f"waiter{n}", owner=owner, environments=["development"]).plaintext
        for n in range(TOKENS)
    ]
    auth = {"Authorization": f"Bearer {plaintexts[0]}"}
    env = {**_server_env(), "CONFIG_API_RATE": "", "CONFIG_METRICS_TOKEN": "bench-metrics"}
    figures: dict[str, float] = {"uvicorn workers": WORKERS, "client threads": CLIENTS, "long polls": WAITERS}
    with Gunicorn(env, workers=WORKERS, asgi=True) as server:
        server.wait_until(lambda: get(server.url + "/readyz").status == 200, timeout=30, what="ready")
        category = server.url + "/api/v1/environments/development/categories/smtp/"
        changes = "/api/v1/environments/development/changes/"
        version = get(server.url + changes, headers=auth).json()["version"]
        measure(figures, "bare view, none waiting", server.url + "/test/bare", {})
        measure(figures, "category GET, none waiting", category, auth)
        figures["threads, none waiting"], figures["db connections, none waiting"] = _footprint(server)
        waiters = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.waiters", str(server.port), changes, str(version), str(WAITERS),
             str(ROUNDS), *plaintexts],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        committed = []
        for round_ in range(ROUNDS):
            started = time.monotonic()
            server.wait_until(lambda: _waiting(server) >= WAITERS, timeout=180, what="every poll waiting", interval=0.5)
            figures[f"seconds to open every poll, round {round_ + 1}"] = time.monotonic() - started
            if round_ == 0:
                _while_waiting(server, category, auth, figures)
            services.set_value(category="smtp", key="key00", environment="development", value=f"changed {round_}")
            committed.append(time.time())
            _until(waiters, {"event": "answered", "round": round_ + 1})  # then they poll again
        done = _until(waiters, "done")
        waiters.wait(timeout=60)
    _latencies(done, committed, figures)
    figures["category GET all waiting / bare view all waiting"] = (
        figures["category GET, all waiting req/s"] / figures["bare view, all waiting req/s"]
    )
    figures["category GET all waiting / bare view none waiting"] = (
        figures["category GET, all waiting req/s"] / figures["bare view, none waiting req/s"]
    )
    return figures
