"""Migrations go forward from zero, back to zero and forward again; triggers survive table rebuilds."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection

from configurations import services
from configurations.data.installation import drop_sqlite_triggers, reinstall_sqlite_triggers
from configurations.models import ConfigurationHistory, ConfigurationMetadata, HistoryChainHead, SystemConfiguration
from configurations.services import history, partitions
from tests.factories import age_history

pytestmark = pytest.mark.django_db(transaction=True)


def _triggers() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT DISTINCT trigger_name FROM information_schema.triggers")
        return {row[0] for row in cursor.fetchall()}


def _functions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace")
        return {row[0] for row in cursor.fetchall()}


def _assert_history_works() -> None:
    # Rows written from here on only: an earlier test's flush can leave history rows behind (see below).
    last = ConfigurationHistory.objects.order_by("-id").values_list("id", flat=True).first() or 0
    config = SystemConfiguration.objects.create(category="m", config_key="k", config_value="1")
    SystemConfiguration.objects.filter(pk=config.pk).update(config_value="2")
    written = ConfigurationHistory.objects.filter(config_id=config.pk, id__gt=last)
    assert list(written.values_list("action", flat=True)) == ["update", "create"]


def test_back_to_zero_and_forward_again():
    assert "system_configurations_history_update" in _triggers()
    call_command("migrate", "configurations", "zero", verbosity=0)
    tables = connection.introspection.table_names()
    assert "system_configurations" not in tables
    assert "configuration_history" not in tables
    if connection.vendor == "postgresql":
        assert not {"log_configuration_change", "validate_configuration_value"} & _functions()
    call_command("migrate", verbosity=0)
    assert {
        "system_configurations_history_insert",
        "system_configurations_history_update",
        "system_configurations_history_delete",
    } <= _triggers()
    _assert_history_works()


def test_trigger_migration_reverses_cleanly():
    call_command("migrate", "configurations", "0001", verbosity=0)
    try:
        assert not {t for t in _triggers() if t.startswith("system_configurations")}
        # The flush that ended an earlier test may have left history rows behind (its table order varies and
        # the delete trigger records the rows it deletes): look only at rows written from here on.
        last = ConfigurationHistory.objects.order_by("-id").values_list("id", flat=True).first() or 0
        config = SystemConfiguration.objects.create(category="m", config_key="quiet", config_value="1")
        config.delete()
        assert not ConfigurationHistory.objects.filter(id__gt=last).exists()
    finally:
        call_command("migrate", verbosity=0)
    _assert_history_works()


@pytest.mark.sqlite
def test_sqlite_triggers_survive_migrations_that_rebuild_tables():
    # What migrate does around a migration that alters columns on SQLite:
    # pre_migrate takes the triggers down, the migration copies each table into
    # a new one, post_migrate puts the triggers back.
    assert drop_sqlite_triggers() is True
    with connection.schema_editor() as editor:
        editor._remake_table(ConfigurationMetadata)
        editor._remake_table(SystemConfiguration)
    assert not _triggers()
    call_command("migrate", verbosity=0)
    assert {
        "system_configurations_history_insert",
        "system_configurations_history_update",
        "system_configurations_history_delete",
        "configuration_history_fill_identity",
    } <= _triggers()
    _assert_history_works()


@pytest.mark.sqlite
def test_rebuild_with_triggers_in_place_would_fail():
    """Why the triggers come down first: SQLite refuses the rename while a trigger names the table."""
    with pytest.raises(OperationalError, match="no such table"), connection.schema_editor() as editor:
        editor._remake_table(SystemConfiguration)


@pytest.mark.sqlite
def test_reinstall_does_nothing_before_the_trigger_migration():
    call_command("migrate", "configurations", "0001", verbosity=0)
    try:
        assert reinstall_sqlite_triggers() is False
        assert not {t for t in _triggers() if t.startswith("system_configurations")}
    finally:
        call_command("migrate", verbosity=0)


def test_metadata_history_written_before_0018_is_chained_by_it_and_verifies():
    call_command("migrate", "configurations", "0017", verbosity=0)
    try:
        with connection.cursor() as cursor:
            for order in (1, 2):  # as simple-history's signals wrote them: no old state, no hashes
                cursor.execute(
                    "INSERT INTO configuration_metadata_changes (id, category, config_key, display_name, input_type,"
                    " is_required, sort_order, created_at, history_date, history_change_reason, history_type)"
                    " VALUES (9001, 'old', 'k', 'K', 'text', %s, %s, %s, %s, 'before', '~')",
                    [False, order, "2025-01-01 00:00:00", f"2025-01-0{order} 00:00:00"],
                )
    finally:
        call_command("migrate", verbosity=0)
    old = list(ConfigurationMetadata.history.model.objects.filter(id=9001).order_by("history_id"))
    assert [r.history_change_reason for r in old] == ["before", "before"]
    assert old[1].history_prev_hash == old[0].history_row_hash is not None
    report = services.verify_history()
    assert report.ok, [str(f) for f in report.findings]
    assert report.rows_per_table["configuration_metadata_changes"] >= 2


def _history_rows() -> set[tuple]:
    fields = [field.attname for field in ConfigurationHistory._meta.concrete_fields]
    return set(ConfigurationHistory.objects.values_list(*fields))


def _is_partitioned() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = 'configuration_history'::regclass")
        return cursor.fetchone()[0] == "p"


def _page() -> list[tuple]:
    entries, _ = history.page(history.HistoryFilters(), size=100)
    return [(entry.row.pk, entry.change, entry.old, entry.new, entry.is_current) for entry in entries]


@pytest.mark.postgres
def test_the_partition_migration_converts_a_populated_history_and_back():
    call_command("migrate", "configurations", "0024", verbosity=0)
    try:
        assert not _is_partitioned()
        for index in range(12):
            services.set_value(category="conv", key=f"k{index % 5}", environment="test", value=f"v{index}")
        ids = list(ConfigurationHistory.objects.filter(category="conv").order_by("id").values_list("id", flat=True))
        age_history(ids[:4], days=400)
        rows, page, head = _history_rows(), _page(), HistoryChainHead.objects.get().last_hash
        call_command("migrate", "configurations", "0025", verbosity=0)
        assert _is_partitioned() and _history_rows() == rows and _page() == page
        assert HistoryChainHead.objects.get().last_hash == head and services.verify_history().ok
        old = ConfigurationHistory.objects.get(pk=ids[0]).created_at
        assert f"configuration_history_{old:%Y_%m}" in {p.name for p in partitions.partitions() if p.rows == 4}
        services.set_value(category="conv", key="after", environment="test", value="x")
        newest = ConfigurationHistory.objects.order_by("-id").first()
        assert newest.pk > max(row[0] for row in rows) and newest.config_key == "after"
        rows = _history_rows()
        call_command("migrate", "configurations", "0024", verbosity=0)
        assert not _is_partitioned() and _history_rows() == rows
    finally:
        call_command("migrate", verbosity=0)
    assert _is_partitioned() and services.verify_history().ok
    _assert_history_works()


@pytest.mark.postgres
def test_0028_writes_no_outbox_event_without_an_endpoint_and_its_reverse_is_0027():
    from configurations.models import ConfigurationEvent

    def events_written(value: str) -> int:
        before = ConfigurationEvent.objects.count()
        services.set_value(category="m", key="outbox", environment="test", value=value)
        return ConfigurationEvent.objects.count() - before

    def volatility() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT provolatile FROM pg_proc WHERE proname = 'config_history_value'")
            return cursor.fetchone()[0]

    assert (events_written("1"), volatility()) == (0, "s")
    call_command("migrate", "configurations", "0027", verbosity=0)
    try:
        assert (events_written("2"), volatility()) == (1, "i")
    finally:
        call_command("migrate", verbosity=0)
    assert (events_written("3"), volatility()) == (0, "s")
    _assert_history_works()
