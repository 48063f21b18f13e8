"""Bounded load against `make serve`'s gunicorn (ASGI: uvicorn workers) on loopback: 4 workers, 8 client
threads, a fixed time per endpoint.

Endpoints: the category editor, the history page, a view that reads ``runtime.get`` 20 times, and a bare
Django view (the floor) in the same run. Prints requests/s, p50/p99 (ms) and errors per endpoint. Run it with
``python benchmarks/run.py load --engine postgres`` (it also runs on SQLite, which is not a serving engine).
"""

from __future__ import annotations

import concurrent.futures
import os
import statistics
import time

SETTINGS = "tests.serving_settings"  # the same settings (password hasher, URLs) as the server it starts
SECONDS = float(os.environ.get("LOAD_SECONDS", "8"))
CLIENTS = 8
WORKERS = 4
ENDPOINTS = {
    "bare view": "/test/bare",
    "20 runtime.get": "/test/runtime-reads",
    "editor page": "/admin/configurations/categories/smtp/development/",
    "history page": "/admin/configurations/history/",
}


def _server_env() -> dict[str, str]:
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "postgresql":
        url = f"postgres://{s['USER']}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"
    else:
        url = f"sqlite:///{s['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "CONFIG_RUNTIME_WATCH": "1", "CONFIG_ENVIRONMENT": "development"}


def _hammer(client, path: str) -> tuple[list[float], int]:
    samples, errors = [], 0
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            status = client.get(path).status
        except OSError:
            status = 0
        samples.append(time.perf_counter() - started)
        errors += status != 200
    return samples, errors


def run() -> dict[str, float]:
    from configurations import services
    from tests.factories import UserFactory
    from tests.servers import Client, Gunicorn

    for i in range(20):
        services.set_value(category="load", key=f"key{i:02}", environment="development", value=str(i))
    for i in range(60):
        services.set_value(category="smtp", key="host", environment="development", value=f"smtp{i}.example.com")
    UserFactory(username="load", password="load-password-1", is_staff=True, is_superuser=True)
    figures: dict[str, float] = {"gunicorn workers": WORKERS, "client threads": CLIENTS, "seconds each": SECONDS}
    with Gunicorn(_server_env(), workers=WORKERS) as server:
        clients = []
        for _ in range(CLIENTS):
            client = Client(server.url)
            client.login("load", "load-password-1")
            clients.append(client)
        for name, path in ENDPOINTS.items():
            assert clients[0].get(path).status == 200, path
            with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
                results = list(pool.map(lambda c, p=path: _hammer(c, p), clients))
            samples = sorted(s for r in results for s in r[0])
            figures[f"{name} req/s"] = len(samples) / SECONDS
            figures[f"{name} p50 (ms)"] = statistics.median(samples) * 1000
            figures[f"{name} p99 (ms)"] = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))] * 1000
            figures[f"{name} errors"] = sum(r[1] for r in results)
    return figures
