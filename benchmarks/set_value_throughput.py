"""set_value throughput: one audited, validated write per call, history included (writes per second)."""

from __future__ import annotations

import time

WRITES = 2_000
BATCH = 5_000


def run() -> dict[str, float]:
    from configurations import services
    from configurations.models import ConfigurationHistory

    keys = [f"key_{i % 200:03d}" for i in range(WRITES)]
    start = time.perf_counter()
    for i, key in enumerate(keys):
        services.set_value(category="bench", key=key, environment="test", value=f"value-{i}", reason="bench")
    plain = time.perf_counter() - start

    start = time.perf_counter()
    for i in range(WRITES // 4):
        services.set_value(category="smtp", key="auth_pass", environment="test", value=f"password-{i:06d}")
    secret = time.perf_counter() - start
    history = ConfigurationHistory.objects.filter(category__in=["bench", "smtp"]).count()
    assert history == WRITES + WRITES // 4, history

    batch = [services.Change("bulk", f"key_{i:05d}", "test", f"v{i}") for i in range(BATCH)]
    start = time.perf_counter()
    services.apply_changes(batch, reason="bench")
    bulk = time.perf_counter() - start
    return {
        "writes": WRITES,
        "set_value (writes/s)": WRITES / plain,
        "set_value of a secret (writes/s)": (WRITES // 4) / secret,
        f"apply_changes of {BATCH} new keys in one transaction (keys/s)": BATCH / bulk,
    }
