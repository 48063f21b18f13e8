"""The API under `make serve`'s gunicorn (ASGI: uvicorn workers) beside a bare Django view, in one run:
requests/s and p50/p99 of the category GET
(a token lookup, values from the runtime snapshot), of its 304 (If-None-Match) and of the PUT of one key (an audited
write: validation, the category lock, the review gate, the history row in the chain; each client writes a category
of its own), 4 workers, 8 client threads, a fixed time each. ``python benchmarks/run.py api --engine postgres``."""

from __future__ import annotations

import concurrent.futures
import os
import statistics
import time

from .load import CLIENTS, SECONDS, WORKERS, _server_env

SETTINGS = "tests.serving_settings"


def _hammer(url: str, headers: dict, client: int = 0) -> tuple[list[float], int]:
    from tests.servers import get

    samples, errors = [], 0
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            status = get(url, headers=headers).status
        except OSError:
            status = 0
        samples.append(time.perf_counter() - started)
        errors += status not in (200, 304)
    return samples, errors


def _write(url: str, headers: dict, client: int) -> tuple[list[float], int]:
    from tests.servers import put_json

    samples, errors, n = [], 0, 0
    deadline = time.monotonic() + SECONDS
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


def measure(figures: dict, name: str, url: str, headers: dict, client=_hammer) -> None:
    """CLIENTS threads running ``client`` for SECONDS: requests/s, p50, p99 (ms) and errors into ``figures``."""
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda n: client(url, headers, n), range(CLIENTS)))
    samples = [s for r in results for s in r[0]]
    figures[f"{name} req/s"] = len(samples) / SECONDS
    figures[f"{name} p50 (ms)"] = statistics.median(samples) * 1000
    figures[f"{name} p99 (ms)"] = percentile(samples, 0.99) * 1000
    figures[f"{name} errors"] = sum(r[1] for r in results)


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
    figures: dict[str, float] = {"gunicorn workers": WORKERS, "client threads": CLIENTS, "seconds each": SECONDS}
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
        for name, (url, headers, client) in runs.items():
            measure(figures, name, url, headers, client)
    figures["category GET / bare view"] = figures["category GET req/s"] / figures["bare view req/s"]
    figures["key PUT / bare view"] = figures["key PUT req/s"] / figures["bare view req/s"]
    return figures
