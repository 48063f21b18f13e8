"""The audited single write against its floors and its peer, in one run, rounds interleaved (issue 24).

- ``set_value``: one validated, typed, audited write (category lock, review gate, history row in the hash chain,
  NOTIFY), in its own transaction, of the same key again (the connection remembers it: one round trip) and of a key
  it does not remember (the read, then the write);
- floor: a bare ``UPDATE`` of the same row + commit (the table's triggers fire: the history row and chain are part of
  the table), and a bare UPDATE + commit of a table without triggers;
- peer: django-constance's setter (``setattr(config, KEY, value)``, its database backend);
- concurrency: 8 threads writing 8 categories with ``set_value`` against 1 thread, to show they do not serialise on
  anything but the history chain's head.

Each figure is writes per second. Within a round the single-threaded contenders take turns call by call, so that the
shared machine's load falls on all alike; the ratios compare figures of the same round.
"""

from __future__ import annotations

import statistics
import threading
import time

SETTINGS = "benchmarks.settings_constance"
ROUNDS = 5
WRITES = 300
THREADS = 8


def _interleaved(contenders: dict, n: int) -> dict[str, float]:
    """Each contender's rate over ``n`` calls, the contenders taking turns call by call (the first one rotating), so
    that the shared machine's moods fall on all of them alike: a phase of several hundred calls each swung the ratios
    by 15-20 % from one run to the next."""
    spent = dict.fromkeys(contenders, 0.0)
    names = list(contenders)
    for i in range(n):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start = time.perf_counter()
            contenders[name](i)
            spent[name] += time.perf_counter() - start
    return {name: n / seconds for name, seconds in spent.items()}


def _spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def run() -> dict[str, float]:
    from constance import config
    from django.db import close_old_connections, connection, transaction

    from configurations import services
    from configurations.data import write_memory

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_plain (id integer PRIMARY KEY, value text)")
        cursor.execute("INSERT INTO bench_plain VALUES (1, 'x')")
    services.set_value(category="bench", key="k", environment="test", value="v", reason="bench")
    setattr(config, "SMTP_PORT", 1)  # noqa: B010 - constance's setter is setattr

    def ours(i):
        services.set_value(category="bench", key="k", environment="test", value=f"v{i}", reason="bench")

    def ours_cold(i):  # nothing remembered: the read, then the write
        write_memory.forget()
        services.set_value(category="bench", key="k", environment="test", value=f"c{i}", reason="bench")

    def bare(i):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE system_configurations SET config_value = %s WHERE category = 'bench' AND config_key = 'k' "
                "AND environment = 'test'",
                [f"b{i}"],
            )

    def plain(i):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE bench_plain SET value = %s WHERE id = 1", [f"p{i}"])

    def constance_setter(i):
        setattr(config, "SMTP_PORT", i)  # noqa: B010

    def parallel(threads: int) -> float:
        barrier = threading.Barrier(threads)

        def writer(n):
            barrier.wait()
            for i in range(WRITES // 2):
                services.set_value(category=f"bench{n}", key="k", environment="test", value=f"t{i}", reason="bench")
            close_old_connections()
            connection.close()

        workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
        start = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return threads * (WRITES // 2) / (time.perf_counter() - start)

    single = {"set_value": ours, "cold": ours_cold, "bare": bare, "plain": plain, "constance": constance_setter}
    figures: dict[str, list[float]] = {name: [] for name in (*single, "one", "eight")}
    for _ in range(ROUNDS):
        for name, rate in _interleaved(single, WRITES).items():
            figures[name].append(rate)
        figures["one"].append(parallel(1))
        figures["eight"].append(parallel(THREADS))
    result: dict[str, float] = {}
    for name, values in figures.items():
        for stat, value in _spread(values).items():
            result[f"{name} {stat} (writes/s)"] = value
    rounds = range(ROUNDS)
    result["set_value / bare UPDATE+commit (median of rounds)"] = statistics.median(
        figures["set_value"][r] / figures["bare"][r] for r in rounds
    )
    result["set_value / UPDATE of a table without triggers"] = statistics.median(
        figures["set_value"][r] / figures["plain"][r] for r in rounds
    )
    result["set_value / constance setter"] = statistics.median(
        figures["set_value"][r] / figures["constance"][r] for r in rounds
    )
    result["set_value of a key not remembered / constance setter"] = statistics.median(
        figures["cold"][r] / figures["constance"][r] for r in rounds
    )
    result[f"{THREADS} writers on {THREADS} categories / 1 writer"] = statistics.median(
        figures["eight"][r] / figures["one"][r] for r in rounds
    )
    return result
