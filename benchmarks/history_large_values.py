"""A history page whose 50 entries hold 256 KiB values that differ everywhere: its cost must stay bounded.

Before issue 13 a page diffed whole values (difflib.ndiff with its character pass): two 2.5 KB JSON lists
made the page take 15 s, 600-item lists a 500. Now a page reads at most PREVIEW_CHARS of each value and diffs
only values that fit.
"""

from __future__ import annotations

import statistics
import time

ENTRIES = 50
ROUNDS = 10
SIZE = 256 * 1024


def _seed() -> None:
    from configurations import services

    for index in range(ENTRIES // 2 + 1):
        # Each version differs from the one before it in every line: a JSON list of distinct numbers.
        items = [f"{index:04d}-{n:06d}-" + "x" * 20 for n in range(SIZE // 36 - 10)]  # just under 256 KiB of JSON
        services.set_value(category="big", key="doc", environment="test", value=items, value_type="json")
        services.set_value(category="big", key="text", environment="test", value=f"{index:02d}" * (SIZE // 2))


def run() -> dict[str, float]:
    from django.test import Client

    from configurations.models import ConfigurationHistory, User

    _seed()
    assert ConfigurationHistory.objects.filter(category="big").count() >= ENTRIES
    largest = max(len(row.new_value or "") for row in ConfigurationHistory.objects.filter(category="big"))
    admin = User.objects.create_superuser("bench", "bench@example.com", "bench-password")
    client = Client()
    client.force_login(admin)
    url = "/admin/configurations/history/?category=big"
    assert client.get(url).status_code == 200
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - start)
    assert response.status_code == 200 and response.content.decode().count('<tr class="action-') == ENTRIES
    return {
        "entries on the page": ENTRIES,
        "largest value (characters)": largest,
        "page size (KB)": len(response.content) / 1024,
        "history page, HTTP in-process, median (ms)": statistics.median(samples) * 1000,
    }
