"""The API under `make serve`'s gunicorn (ASGI: uvicorn workers) beside a bare Django view, in one run:
requests/s and p50/p99 of the category GET
(a token lookup, values from the runtime snapshot), of its 304 (If-None-Match) and of the PUT of one key (an audited
write: validation, the category lock, the review gate, the history row in the chain; each client writes a category
of its own), 4 workers, 8 client threads; and the CPU the workers and PostgreSQL spent per request in each phase (from
/proc: the machine is shared, so time per request alone says little).

The phases run in ``API_ROUNDS`` interleaved rounds (3) of ``API_ROUND_SECONDS`` each (4), so that the machine's load
falls on all alike; each figure is the min / median / max over the rounds, and each ratio the median of the rounds'
own ratios against the bare view measured in the same round.
``python benchmarks/run.py api --engine postgres``."""

from __future__ import annotations

import concurrent.futures
import functools
import os
import statistics
import subprocess
import time
from pathlib import Path

from .load import CLIENTS, SECONDS, WORKERS, _server_env

ROUNDS = int(os.environ.get("API_ROUNDS", "3"))
ROUND_SECONDS = float(os.environ.get("API_ROUND_SECONDS", "4"))

SETTINGS = "tests.serving_settings"


def _hammer(url: str, headers: dict, client: int = 0, seconds: float = SECONDS) -> tuple[list[float], int]:
    from tests.servers import get

    samples, errors = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            status = get(url, headers=headers).status
        except OSError:
            status = 0
        samples.append(time.perf_counter() - started)
        errors += status not in (200, 304)
    return samples, errors


def _write(url: str, headers: dict, client: int, seconds: float = SECONDS) -> tuple[list[float], int]:
    from tests.servers import put_json

    samples, errors, n = [], 0, 0
    deadline = time.monotonic() + seconds
    target = url.replace("CLIENT", str(client))
    while time.monotonic() < deadline:
        n += 1
        started = time.perf_counter()
        try:
            status = put_json(target, {"value": f"v{client}-{n}", "reason": "bench"}, headers).status
        except OSError:
            status = 0
        samples.append(time.perf_counter() - started)
        errors += status != 200
    return samples, errors


def percentile(values: list[float], share: float) -> float:
    """The value at ``share`` (0.99: p99) of the values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(figures: dict, name: str, url: str, headers: dict, client=_hammer, seconds: float = SECONDS) -> None:
    """CLIENTS threads running ``client`` for ``seconds``: requests/s, p50, p99 (ms) and errors into ``figures``."""
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda n: client(url, headers, n, seconds), range(CLIENTS)))
    samples = [s for r in results for s in r[0]]
    figures[f"{name} req/s"] = len(samples) / seconds
    figures[f"{name} p50 (ms)"] = statistics.median(samples) * 1000
    figures[f"{name} p99 (ms)"] = percentile(samples, 0.99) * 1000
    figures[f"{name} errors"] = sum(r[1] for r in results)


def _cpu_seconds(pids) -> float:
    """User + system CPU time of ``pids`` so far (from /proc; a process that is gone counts 0)."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _postgres_pids() -> list[int]:
    """The local PostgreSQL server's processes (its backends among them), or none where there is no /proc or pgrep."""
    try:
        found = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    return [int(pid) for pid in found.split()]


def measure_cpu(figures: dict, name: str, workers: set[int], run, seconds: float = SECONDS) -> None:
    """``run()`` for ``seconds``, and the CPU the server's workers and PostgreSQL spent per request meanwhile (ms), into
    figures."""
    postgres = _postgres_pids()
    before = _cpu_seconds(workers), _cpu_seconds(postgres)
    run()
    requests = figures[f"{name} req/s"] * seconds
    figures[f"{name} workers' CPU per request (ms)"] = (_cpu_seconds(workers) - before[0]) / requests * 1000
    figures[f"{name} PostgreSQL CPU per request (ms)"] = (_cpu_seconds(postgres) - before[1]) / requests * 1000


def run() -> dict[str, float]:
    from configurations import services
    from configurations.services import tokens
    from tests.factories import editor_of
    from tests.servers import Gunicorn, get

    owner = editor_of("development", username="bench")
    for i in range(20):
        services.set_value(category="smtp", key=f"key{i:02}", environment="development", value=str(i))
    token = tokens.create_token(name="bench", owner=owner, environments=["development"], write=True).plaintext
    auth = {"Authorization": f"Bearer {token}"}
    os.environ["CONFIG_API_RATE"] = ""
    rounds: list[dict[str, float]] = []
    with Gunicorn({**_server_env(), "CONFIG_API_RATE": ""}, workers=WORKERS) as server:
        category = server.url + "/api/v1/environments/development/categories/smtp/"
        first = get(category, headers=auth)
        assert first.status == 200, first.text
        etag = first.headers["ETag"]
        put = server.url + "/api/v1/environments/development/categories/bench_CLIENT/keys/key/"
        runs = {
            "bare view": (server.url + "/test/bare", {}, _hammer),
            "category GET": (category, auth, _hammer),
            "category 304": (category, {**auth, "If-None-Match": etag}, _hammer),
            "key PUT": (put, auth, _write),
        }
        # Every worker forked before their CPU is counted: one that came later would be left out of the figures.
        workers = server.wait_until(lambda: len(pids := server.worker_pids()) == WORKERS and pids, timeout=30,
                                    what=f"{WORKERS} workers")  # fmt: skip
        for _ in range(ROUNDS):
            figures: dict[str, float] = {}
            for name, (url, headers, client) in runs.items():
                phase = functools.partial(measure, figures, name, url, headers, client, ROUND_SECONDS)
                measure_cpu(figures, name, workers, phase, ROUND_SECONDS)
            figures["category GET / bare view"] = figures["category GET req/s"] / figures["bare view req/s"]
            figures["key PUT / bare view"] = figures["key PUT req/s"] / figures["bare view req/s"]
            rounds.append(figures)
    return summary(rounds)


def summary(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's min / median / max over the rounds (errors: their sum), the set-up first."""
    result: dict[str, float] = {"gunicorn workers": WORKERS, "client threads": CLIENTS, "rounds": len(rounds),
                                "seconds each": ROUND_SECONDS}  # fmt: skip
    for name in rounds[0]:
        values = [figures[name] for figures in rounds]
        if name.endswith("errors"):
            result[name] = sum(values)
            continue
        result[f"{name} (median)"] = statistics.median(values)
        result[f"{name} (min)"], result[f"{name} (max)"] = min(values), max(values)
    return result
