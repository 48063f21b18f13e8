"""The first page of history at 1,000,000 rows: per configuration, per category/environment, all, and the view."""

from __future__ import annotations

from benchmarks import harness

ROWS = 1_000_000
CONFIGS = 2_000  # 500 history rows each, over 20 categories x 4 environments
ROUNDS = 30


def _median_ms(fn) -> float:
    return harness.warm_median_ms(fn, rounds=ROUNDS)


def _seed() -> None:
    from django.db import connection

    from configurations.models import SystemConfiguration
    from configurations.services import partitions

    SystemConfiguration.objects.bulk_create(
        [
            SystemConfiguration(
                category=f"cat{i % 20:02d}",
                config_key=f"key_{i:05d}",
                environment=["development", "staging", "production", "test"][i // 20 % 4],
            )
            for i in range(CONFIGS)
        ],
        batch_size=1000,
    )
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM configuration_history")
        if connection.vendor == "postgresql":
            series = f"generate_series(1, {ROWS}) AS n"
            now = "now() - (n || ' seconds')::interval"
        else:
            series = (
                f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {ROWS})\n SELECT n FROM s)"
            )
            now = "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-' || n || ' seconds')"
        cursor.execute(
            f"""
            INSERT INTO configuration_history (config_id, old_value, new_value, created_at, category, config_key,
                                               environment, action, old_value_type, new_value_type)
            SELECT c.id, 'old ' || n, 'new ' || n, {now}, c.category, c.config_key, c.environment, 'update',
                   'string', 'string'
            FROM {series}
            JOIN system_configurations c ON c.id = (SELECT MIN(id) FROM system_configurations) + (n % {CONFIGS})
            """
        )
        if connection.vendor == "postgresql":
            partitions.ensure_partitions()  # last month's rows get its partition (and the default a vacuum), as
            cursor.execute("ANALYZE configuration_history")  # history_partitions does
        else:
            cursor.execute("ANALYZE")


def run() -> dict[str, float]:
    from django.test import Client

    from configurations.models import ConfigurationHistory, SystemConfiguration, User
    from configurations.services import history

    _seed()
    assert ConfigurationHistory.objects.count() == ROWS
    config = SystemConfiguration.objects.order_by("id")[CONFIGS // 2]
    by_config = history.HistoryFilters(config_id=config.id)
    by_category = history.HistoryFilters(category=config.category, environment=config.environment)
    entries, cursor = history.page(by_config)
    assert len(entries) == history.PAGE_SIZE
    admin = User.objects.create_superuser("bench", "bench@example.com", "bench-password")
    client = Client()
    client.force_login(admin)
    url = f"/admin/configurations/history/?config={config.id}"
    assert client.get(url).status_code == 200
    return {
        "history rows": ROWS,
        "first page, one configuration (ms)": _median_ms(lambda: history.page(by_config)),
        "second page, one configuration (ms)": _median_ms(lambda: history.page(by_config, before=cursor)),
        "first page, category+environment (ms)": _median_ms(lambda: history.page(by_category)),
        "first page, everything (ms)": _median_ms(lambda: history.page(history.HistoryFilters())),
        "admin view, one configuration, HTTP in-process (ms)": _median_ms(lambda: client.get(url)),
    }
