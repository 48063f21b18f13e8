"""A warm runtime.get() against django-constance's database backend and a plain ORM read, in one run; and
runtime.get_category() of 20 keys against a dict copy of the same 20 values (issue 24's floor), in ``REPEATS``
interleaved rounds: min / median / max of each round's ratio."""

from __future__ import annotations

import statistics
import timeit

SETTINGS = "benchmarks.settings_constance"
READS = 20_000
REPEATS = 15


def _median_us(fn, number: int) -> float:
    return statistics.median(timeit.repeat(fn, number=number, repeat=REPEATS)) / number * 1e6


def _against_floor(read, floor) -> tuple[float, float, list[float]]:
    """``read`` and ``floor`` timed in alternation, ``REPEATS`` rounds of ``READS`` calls each (the best of 3 runs per
    round): their median microseconds per call, and each round's ratio."""
    reads, floors = [], []
    for _ in range(REPEATS):
        reads.append(min(timeit.repeat(read, number=READS, repeat=3)) / READS * 1e6)
        floors.append(min(timeit.repeat(floor, number=READS, repeat=3)) / READS * 1e6)
    return statistics.median(reads), statistics.median(floors), [r / f for r, f in zip(reads, floors, strict=True)]


def run() -> dict[str, float]:
    from constance import config

    from configurations import runtime, services
    from configurations.models import SystemConfiguration

    services.set_value(category="smtp", key="port", environment="development", value="587")
    services.set_value(category="smtp", key="auth_pass", environment="development", value="bench-secret-1")
    services.apply_changes([services.Change("app20", f"key_{i:02d}", "development", str(i)) for i in range(20)])
    assert config.SMTP_PORT == 587
    runtime.reset()
    assert runtime.get("smtp", "port", environment="development") == 587  # cold start

    ours = _median_us(lambda: runtime.get("smtp", "port", environment="development"), READS)
    ours_default_env = _median_us(lambda: runtime.get("smtp", "port"), READS)
    secret = _median_us(lambda: runtime.get("smtp", "auth_pass"), READS)
    category = _median_us(lambda: runtime.get_category("smtp"), READS)
    values = dict(runtime.snapshot().by_category["app20"])
    twenty, dict_copy, ratios = _against_floor(lambda: runtime.get_category("app20"), lambda: dict(values))
    constance = _median_us(lambda: config.SMTP_PORT, 500)
    orm = _median_us(
        lambda: SystemConfiguration.objects.get(category="smtp", config_key="port", environment="development"), 500
    )
    runtime.reset()
    return {
        "runtime.get (us)": ours,
        "runtime.get, default environment (us)": ours_default_env,
        "runtime.get of a secret (us)": secret,
        "runtime.get_category (us)": category,
        "runtime.get_category of 20 keys (us)": twenty,
        "a dict copy of the same 20 values (us)": dict_copy,
        "get_category / dict copy (median of rounds)": statistics.median(ratios),
        "get_category / dict copy (min)": min(ratios),
        "get_category / dict copy (max)": max(ratios),
        "constance database backend (us)": constance,
        "plain ORM read (us)": orm,
        "constance / runtime.get": constance / ours_default_env,
        "ORM / runtime.get": orm / ours_default_env,
    }
