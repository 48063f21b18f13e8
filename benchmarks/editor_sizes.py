"""The category editor at 10, 100, 1,000 and 3,000 keys: GET (the page a person opens) and POST (a save of one changed
key), through Django's test client, with the page's size.

A category of more than 200 keys opens as an outline (groups and a filter); the figures for it are the outline and a
group page of 200 keys (what a person edits), and the save of one key from that page. The floor of each GET is a
small category's (10 keys) in the same run: the ratio says what the size costs.
"""

from __future__ import annotations

import statistics
import time

from benchmarks import harness

SIZES = (10, 100, 1_000, 3_000)
ROUNDS = 7


def _median_ms(fn) -> float:
    return harness.warm_median_ms(fn, rounds=ROUNDS)


def _seed(category: str, size: int) -> None:
    from configurations.models import ConfigurationMetadata, SystemConfiguration

    ConfigurationMetadata.objects.bulk_create(
        [ConfigurationMetadata(category=category, config_key=f"key_{i:04d}", display_name=f"Key {i}",
                               input_type="text", group_name=f"Group {i % 10}", sort_order=i)
         for i in range(size)], batch_size=1000)  # fmt: skip
    SystemConfiguration.objects.bulk_create(
        [SystemConfiguration(category=category, config_key=f"key_{i:04d}", environment="test", config_value=f"v{i}")
         for i in range(size)], batch_size=1000)  # fmt: skip


def _shown_keys(category: str, size: int) -> list[str]:
    """The keys the page shows: all of a small category, the first 200 of Group 1 of a large one."""
    keys = [f"key_{i:04d}" for i in range(size)]
    return keys if size <= 200 else [k for i, k in enumerate(keys) if i % 10 == 1][:200]


def _post_data(category: str, keys: list[str], changed: str) -> dict:
    from configurations import services
    from configurations.models import SystemConfiguration

    rows = SystemConfiguration.objects.filter(category=category, environment="test", config_key__in=keys)
    data = {"version": services.category_version("test", category), "reason": "bench", "keys": keys}
    data.update({f"value__{row.config_key}": row.config_value for row in rows})
    data[f"value__{keys[0]}"] = changed
    return data


def _post_ms(client, url: str, category: str, keys: list[str]) -> float:
    samples = []
    for round_ in range(ROUNDS + 1):
        data = _post_data(category, keys, f"changed {round_}")
        start = time.perf_counter()
        answer = client.post(url, data)
        samples.append(time.perf_counter() - start)
        assert answer.status_code == 302, answer.status_code
    return statistics.median(samples[1:]) * 1000


def run() -> dict[str, float]:
    from django.test import Client

    from configurations.models import User

    admin = User.objects.create_superuser("bench", "bench@example.com", "bench-password")
    client = Client()
    client.force_login(admin)
    figures: dict[str, float] = {}
    for size in SIZES:
        category = f"size{size}"
        _seed(category, size)
        url = f"/admin/configurations/categories/{category}/test/"
        page_url = url if size <= 200 else f"{url}?group=Group+1"
        outline = client.get(url)
        page = client.get(page_url)
        assert page.status_code == 200, (page.status_code, page.get("Location"))
        figures[f"get_{size}_ms"] = _median_ms(lambda url=url: client.get(url))
        figures[f"get_{size}_kb"] = len(outline.content) / 1024
        if size > 200:
            figures[f"group_page_{size}_ms"] = _median_ms(lambda page_url=page_url: client.get(page_url))
            figures[f"group_page_{size}_kb"] = len(page.content) / 1024
        figures[f"post_{size}_ms"] = _post_ms(client, page_url, category, _shown_keys(category, size))
    for size in SIZES[1:]:
        figures[f"get_{size}_vs_10"] = figures[f"get_{size}_ms"] / figures["get_10_ms"]
    return figures
