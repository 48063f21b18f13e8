"""Visibility delay across processes: 4 reader processes, 1 writer, 100 changes; p50 and p99."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time

from .harness import ROOT

READERS = 4
CHANGES = 100
SPACING = 0.05  # seconds between changes


def _reader_env() -> dict[str, str]:
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "postgresql":
        url = f"postgres://{s['USER']}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"
    else:
        url = f"sqlite:///{s['NAME']}"
    extra = {"DATABASE_URL": url, "CONFIG_RUNTIME_WATCH": "1", "DJANGO_SETTINGS_MODULE": "config_site.settings"}
    return {**os.environ, **extra}


def _start_reader(*extra: str) -> tuple[subprocess.Popen, list[str]]:
    command = [sys.executable, "-m", "tests.runtime_reader", "--seconds", "120", *extra]
    process = subprocess.Popen(command, cwd=ROOT, env=_reader_env(), stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(line.strip() for line in process.stdout), daemon=True).start()
    return process, lines


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _delays(lines: list[str], written: dict[str, float]) -> list[float]:
    """Per change: until the reader saw it or a later value (a poll may skip values in between)."""
    seen = {line.split()[0]: float(line.split()[1]) for line in lines if line != "ready"}
    order = list(written)
    delays = []
    for index, value in enumerate(order):
        later = [seen[v] for v in order[index:] if v in seen] + [seen["stop"]]
        delays.append(max(0.0, min(later) - written[value]) * 1000)
    return delays


def run() -> dict[str, float]:
    from configurations import services

    services.set_value(category="runtime", key="probe", environment="test", value="v-initial")
    readers = [_start_reader() for _ in range(READERS)]
    deadline = time.monotonic() + 30
    while not all(any(line.startswith("v-initial ") for line in lines) for _, lines in readers):
        assert time.monotonic() < deadline, "readers did not start"
        time.sleep(0.01)
    written = {}
    for i in range(CHANGES):
        services.set_value(category="runtime", key="probe", environment="test", value=f"v{i}")
        written[f"v{i}"] = time.monotonic()  # after the commit returned
        time.sleep(SPACING)
    services.set_value(category="runtime", key="probe", environment="test", value="stop")
    delays = []
    for process, lines in readers:
        process.wait(timeout=30)
        delays += _delays(lines, written)
    return {
        "readers": READERS,
        "changes": CHANGES,
        "visibility delay p50 (ms)": statistics.median(delays),
        "visibility delay p99 (ms)": _percentile(delays, 0.99),
        "visibility delay max (ms)": max(delays),
    }
