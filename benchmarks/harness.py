"""Shared set-up for benchmarks: a throwaway migrated database per engine, and timing helpers."""

from __future__ import annotations

import base64
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/configurations"


def database_url(engine: str) -> str:
    if engine == "postgres":
        url = os.environ.get("DATABASE_URL", "")
        return url if url.startswith("postgres") else DEFAULT_POSTGRES_URL
    return f"sqlite:///{ROOT / '.bench-db.sqlite3'}"


def setup_django(engine: str, settings_module: str = "config_site.settings") -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url(engine)
    os.environ.setdefault("SECRET_KEY", "benchmarks-only")
    os.environ.setdefault("CONFIG_ENCRYPTION_KEYS", f"bench:{base64.urlsafe_b64encode(os.urandom(32)).decode()}")
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # in-process clients and loopback servers: no TLS proxy
    import django

    django.setup()


@contextlib.contextmanager
def scratch_database() -> Iterator[None]:
    """Create and migrate a test database (test_<name>), and drop it afterwards."""
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        # A file, not memory, so that other processes (the freshness benchmark's readers) can open it.
        connection.settings_dict["TEST"]["NAME"] = str(ROOT / ".bench-test-db.sqlite3")
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def timed(fn: Callable[[], object], *, rounds: int) -> list[float]:
    """Seconds per call of ``fn`` over ``rounds`` calls."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def warm_median_ms(fn: Callable[[], object], *, rounds: int) -> float:
    """Median milliseconds of ``fn`` over ``rounds`` calls, after one call that warms caches and connections."""
    fn()
    return median_ms(timed(fn, rounds=rounds))
