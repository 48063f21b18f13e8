"""A warm runtime.get() against django-constance's database backend and a plain ORM read, in one run."""

from __future__ import annotations

import statistics
import timeit

SETTINGS = "benchmarks.settings_constance"
READS = 20_000
REPEATS = 15


def _median_us(fn, number: int) -> float:
    return statistics.median(timeit.repeat(fn, number=number, repeat=REPEATS)) / number * 1e6


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
    twenty = _median_us(lambda: runtime.get_category("app20"), READS)
    values = dict(runtime.snapshot().by_category["app20"])
    dict_copy = _median_us(lambda: dict(values), READS)
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
        "get_category / dict copy": twenty / dict_copy,
        "constance database backend (us)": constance,
        "plain ORM read (us)": orm,
        "constance / runtime.get": constance / ours_default_env,
        "ORM / runtime.get": orm / ours_default_env,
    }
