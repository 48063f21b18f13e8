"""A worker's start at 1,000, 10,000 and 100,000 keys (issue 24): its first load's time and the memory it adds.

What gunicorn does (config_site/gunicorn.conf.py): the master loads the snapshot once before forking, then each
worker forks, adopts it and brings it up to date with a delta. Here: this process loads, forks a child that adopts
(after one change made since the load, so the delta has work), and the child reports the time of its first read
and its private memory (``Private_Clean + Private_Dirty`` of /proc/self/smaps_rollup) right after the fork, after
that first read, and after reading every key once (reads touch reference counts, which copies pages). Beside it, in
the same run, the peer: a child that forgets the inherited snapshot and loads it whole, as every worker did before.
"""

from __future__ import annotations

import gc
import json
import os
import time

from django.utils import timezone

SIZES = (1_000, 10_000, 100_000)
ENV = "production"


def _private_mb() -> float:
    with open("/proc/self/smaps_rollup") as smaps:
        found = {line.split(":")[0]: int(line.split()[1]) for line in smaps if line.startswith("Private_")}
    return (found.get("Private_Clean", 0) + found.get("Private_Dirty", 0)) / 1024


def _fill(start: int, stop: int) -> None:
    from django.db import connection

    from configurations.data.audit import audit_context

    with audit_context(reason="benchmark fill"), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            numbers = f"SELECT i FROM generate_series({start}, {stop - 1}) AS g(i)"
            category, key = "'cat' || lpad((i %% 100)::text, 2, '0')", "'key' || lpad(i::text, 6, '0')"
        else:
            numbers = (f"WITH RECURSIVE g(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM g WHERE i < {stop - 1}) "
                       "SELECT i FROM g")  # fmt: skip
            category, key = "printf('cat%%02d', i %% 100)", "printf('key%%06d', i)"
        cursor.execute(
            "INSERT INTO system_configurations (category, config_key, environment, config_value, value_type, "
            "is_encrypted, is_active, created_at, updated_at) "
            f"SELECT {category}, {key}, %s, CAST(i AS TEXT), 'number', %s, %s, %s, %s FROM ({numbers}) AS n",
            [ENV, False, True, timezone.now(), timezone.now()],
        )


def _child(adopt: bool) -> dict[str, float]:
    """Fork; the child reads once (adopting or loading whole) and reports; returns its figures."""
    from django.db import connections

    from configurations import runtime
    from configurations.runtime import snapshots

    connections.close_all()
    gc.freeze()
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running the parent's cleanup
        try:
            os.close(reading)
            at_fork = _private_mb()
            if not adopt:
                snapshots.store.inherited.clear()
            started = time.perf_counter()
            runtime.get("cat07", "key000007", environment=ENV)
            first_ms = (time.perf_counter() - started) * 1000
            after_first = _private_mb()
            for keys in runtime.snapshot(ENV).by_category.values():
                for value in keys.values():
                    del value
            figures = {"first read ms": first_ms, "private MB after the first read": after_first - at_fork,
                       "private MB after reading every key": _private_mb() - at_fork,
                       "full loads by the worker": snapshots.store.full_loads}  # fmt: skip
            os.write(writing, json.dumps(figures).encode())
        finally:
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading) as pipe:
        figures = json.loads(pipe.read())
    os.waitpid(pid, 0)
    gc.unfreeze()
    return figures


def run() -> dict[str, float]:
    from configurations import runtime, services

    result: dict[str, float] = {}
    filled = 0
    for size in SIZES:
        _fill(filled, size)
        filled = size
        runtime.reset()  # a master starting afresh
        started = time.perf_counter()
        runtime.reload(ENV)  # the master's load before fork
        result[f"{size} keys: the master's load (ms)"] = (time.perf_counter() - started) * 1000
        services.set_value(category="cat07", key="key000007", environment=ENV, value="70", value_type="number")
        adopting, loading = _child(adopt=True), _child(adopt=False)
        for name, figures in (("adopting", adopting), ("loading whole (before)", loading)):
            for figure, value in figures.items():
                result[f"{size} keys, worker {name}: {figure}"] = value
        result[f"{size} keys: first read, adopting / loading whole"] = (
            adopting["first read ms"] / loading["first read ms"]
        )
    return result
