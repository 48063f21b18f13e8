"""The history's month partitions on PostgreSQL: created ahead, default rows reported and moved, archived whole behind
a checkpoint in the chain, exported, verified, and pruned by the history pages' queries. SQLite keeps one table."""

from __future__ import annotations

import datetime
import json
import os
import stat
import subprocess
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from configurations import services
from configurations.models import ConfigurationHistory, HistoryArchive
from configurations.services import history, partitions
from tests.conftest import subprocess_env
from tests.factories import age_history
from tests.servers import ROOT

pytestmark = pytest.mark.django_db
postgres = pytest.mark.postgres


def month(offset: int) -> datetime.date:
    """The first day of the month ``offset`` months from this one (negative: before)."""
    return partitions.add_months(datetime.datetime.now(datetime.UTC).date(), offset)


def move_to(ids, first_day: datetime.date) -> None:
    """History rows made to look written on the 15th of that month (chain recomputed)."""
    now = datetime.datetime.now(datetime.UTC)
    target = datetime.datetime.combine(first_day.replace(day=15), now.timetz())
    age_history(ids, days=(now - target).days)


def days_since(first_day: datetime.date) -> int:
    """--older-than that archives every month before ``first_day`` and none from it on."""
    return (datetime.datetime.now(datetime.UTC).date() - first_day).days


@pytest.fixture
def written(db):
    """Ten history rows, ids in order, all of this month."""
    for index in range(10):
        services.set_value(category="part", key=f"k{index % 4}", environment="test", value=f"v{index}")
    return list(ConfigurationHistory.objects.order_by("id").values_list("id", flat=True))


def table_of(entry_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM configuration_history WHERE id = %s", [entry_id])
        return cursor.fetchone()[0]


# ------------------------------------------------------------------------------------------ partitions ahead


@postgres
def test_the_history_is_partitioned_by_month_with_a_default_partition():
    listed = partitions.partitions()
    names = [p.name for p in listed]
    assert partitions.is_partitioned()
    assert names[-1] == "configuration_history_default" and listed[-1].is_default
    assert {f"configuration_history_{m:%Y_%m}" for m in map(month, range(4))} <= set(names)
    assert all(p.end - p.start >= datetime.timedelta(days=28) for p in listed if not p.is_default)


@postgres
def test_partitions_are_created_ahead_idempotently_and_listed():
    created = partitions.ensure_partitions(ahead=6)
    assert created == [f"configuration_history_{month(n):%Y_%m}" for n in (4, 5, 6)]
    assert partitions.ensure_partitions(ahead=6) == []
    out = StringIO()
    call_command("history_partitions", "--ahead", "6", stdout=out)
    lines = out.getvalue().splitlines()
    assert not any(line.startswith("Created") for line in lines)
    row = next(line for line in lines if f"configuration_history_{month(6):%Y_%m}" in line)
    assert f"{month(6):%Y-%m}" in row and " 0 rows" in row and "MB" in row
    with pytest.raises(CommandError, match="--ahead must be 0 or more"):
        call_command("history_partitions", "--ahead", "-1")


@postgres
def test_a_row_outside_every_partition_is_caught_reported_and_moved(written):
    old = month(-30)
    move_to(written[:2], old)
    assert table_of(written[0]) == "configuration_history_default"
    assert partitions.default_rows() == 2
    warnings = services_checks()
    assert [w.id for w in warnings] == ["configurations.W006"] and "holds 2 rows" in warnings[0].msg
    out = StringIO()
    call_command("history_partitions", "--quiet", stdout=out)
    assert f"Created configuration_history_{old:%Y_%m}" in out.getvalue()
    assert table_of(written[0]) == f"configuration_history_{old:%Y_%m}"
    assert partitions.default_rows() == 0 and services_checks() == []
    assert services.verify_history().ok


def services_checks():
    from configurations.checks import check_history_partitions

    return check_history_partitions(databases=["default"])


@pytest.mark.sqlite
def test_on_sqlite_the_history_stays_one_table_and_the_commands_say_so(written, tmp_path):
    out = StringIO()
    call_command("history_partitions", stdout=out)
    assert f"The history is one table ({len(written)} rows)" in out.getvalue()
    assert partitions.ensure_partitions() == [] and partitions.default_rows() is None
    with pytest.raises(ValidationError, match="--export archives whole partitions"):
        services.archive_history(older_than_days=1, export_to=str(tmp_path / "never.jsonl"))
    assert services.verify_history(archive=True).ok


# --------------------------------------------------------------------------------------------- archiving


@pytest.fixture
def aged(written):
    """Rows 0-3 thirty months ago, 4-5 twenty months ago, the rest this month; partitions for both old months."""
    move_to(written[:4], month(-30))
    move_to(written[4:6], month(-20))
    if partitions.is_partitioned():
        partitions.ensure_partitions()
    return written


@postgres
def test_archiving_detaches_whole_old_partitions_behind_a_checkpoint(aged):
    partition = f"configuration_history_{month(-30):%Y_%m}"
    oid = _oid(partition)
    last_hash = ConfigurationHistory.objects.get(pk=aged[3]).row_hash
    report = services.archive_history(older_than_days=days_since(month(-21)))
    assert report.partitions == [partition] and report.moved == 4 and len(report.checkpoints) == 1
    archive = HistoryArchive.objects.get()
    assert archive.table_name == f"configuration_history_archived_{month(-30):%Y_%m}"
    assert (archive.first_id, archive.last_id, archive.row_count) == (aged[0], aged[3], 4)
    assert archive.runs == [[aged[0], None, aged[3], archive.last_hash, 4]]
    checkpoint = ConfigurationHistory.objects.get(pk=report.checkpoints[0])
    assert checkpoint.action == "checkpoint" and checkpoint.config_id == 0
    recorded = json.loads(checkpoint.new_value)
    assert {k: recorded[k] for k in ("first_id", "last_id", "rows", "last_hash")} == {
        "first_id": aged[0], "last_id": aged[3], "rows": 4, "last_hash": archive.last_hash}  # fmt: skip
    assert archive.last_hash == last_hash
    assert not ConfigurationHistory.objects.filter(id__in=aged[:4]).exists()
    assert ConfigurationHistory.objects.filter(id__in=aged[4:]).count() == 6
    with connection.cursor() as cursor:  # detached and renamed whole: not one row deleted
        cursor.execute("SELECT pg_stat_get_xact_tuples_deleted(%s), relname FROM pg_class WHERE oid = %s", [oid, oid])
        assert cursor.fetchone() == (0, archive.table_name)
    assert services.verify_history().ok and services.verify_history(archive=True).ok


def _oid(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::regclass::oid", [table])
        return cursor.fetchone()[0]


@postgres
def test_a_partition_holding_rows_newer_than_the_cutoff_is_never_detached(aged):
    report = services.archive_history(older_than_days=days_since(month(-20)) - 1)  # the cutoff inside month -20
    assert report.partitions == [f"configuration_history_{month(-30):%Y_%m}"]
    assert ConfigurationHistory.objects.filter(id__in=aged[4:6]).count() == 2
    with pytest.raises(DatabaseError, match="newer than the cutoff"), transaction.atomic():
        partitions.archive_partition(f"configuration_history_{month(-20):%Y_%m}", report.cutoff)
    with pytest.raises(DatabaseError, match="not a monthly partition"), transaction.atomic():
        partitions.archive_partition("configuration_history_default", report.cutoff)


@postgres
def test_a_dry_run_counts_partitions_and_moves_nothing(aged):
    out = StringIO()
    call_command("archive_history", "--dry-run", "--older-than", str(days_since(month(-21))), stdout=out)
    assert "Would archive 4 history rows" in out.getvalue()
    assert ConfigurationHistory.objects.count() == 10 and not HistoryArchive.objects.exists()


@postgres
def test_the_command_names_partitions_and_checkpoints(aged):
    out = StringIO()
    call_command("archive_history", "--older-than", str(days_since(month(-19))), stdout=out)
    text = out.getvalue()
    assert f"configuration_history_{month(-30):%Y_%m}: archived" in text
    assert f"configuration_history_{month(-20):%Y_%m}: archived" in text
    assert "Archived 6 history rows in 2 partitions." in text and "Checkpoints in the chain: #" in text
    verified = StringIO()
    call_command("verify_history", stdout=verified)
    assert "6 rows taken from their checkpoints (--archive reads them)" in verified.getvalue()
    verified = StringIO()
    call_command("verify_history", "--archive", stdout=verified)
    assert f"configuration_history_archived_{month(-30):%Y_%m}: 4 rows, ok" in verified.getvalue()


@postgres
def test_a_partition_holding_several_stretches_of_the_chain_verifies(written):
    # Rows written around a month's end can land in the next month's partition: the partition then holds
    # stretches of the chain with gaps that live rows fill.
    move_to([written[0], written[1], written[3], written[4]], month(-30))
    partitions.ensure_partitions()
    services.archive_history(older_than_days=days_since(month(-29)))
    archive = HistoryArchive.objects.get()
    assert [(run[0], run[2], run[4]) for run in archive.runs] == [
        (written[0], written[1], 2), (written[3], written[4], 2)]  # fmt: skip
    assert services.verify_history().ok and services.verify_history(archive=True).ok


@postgres
def test_two_interleaved_months_archived_one_after_the_other_keep_the_chain(written):
    # The second month's stretches are cut by a row of the first, archived a moment before: the catalog says where.
    move_to([written[0], written[1], written[3]], month(-30))
    move_to([written[2], written[4]], month(-29))
    partitions.ensure_partitions()
    services.archive_history(older_than_days=days_since(month(-28)))
    first, second = HistoryArchive.objects.order_by("range_start")
    assert [(run[0], run[2]) for run in first.runs] == [(written[0], written[1]), (written[3], written[3])]
    assert [(run[0], run[2]) for run in second.runs] == [(written[2], written[2]), (written[4], written[4])]
    assert services.verify_history().ok and services.verify_history(archive=True).ok


@postgres
def test_tampering_in_an_archived_partition_is_found_with_archive(aged):
    services.archive_history(older_than_days=days_since(month(-21)))
    archive = HistoryArchive.objects.get()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {archive.table_name} SET change_reason = 'rewritten' WHERE id = %s", [aged[1]])
        cursor.execute(f"DELETE FROM {archive.table_name} WHERE id = %s", [aged[2]])
    report = services.verify_history(archive=True)
    kinds = {(f.kind, f.table) for f in report.findings}
    assert ("edited", archive.table_name) in kinds and ("deleted", archive.table_name) in kinds
    assert any("differs from checkpoint" in f.message and "3 rows, not 4" in f.message for f in report.findings)
    assert services.verify_history().ok  # without --archive the archive is taken from its checkpoint


@postgres
def test_a_catalog_entry_that_contradicts_its_checkpoint_is_found(aged):
    services.archive_history(older_than_days=days_since(month(-21)))
    HistoryArchive.objects.update(row_count=3, runs=[[aged[0], None, aged[2], "0" * 64, 3]])
    report = services.verify_history()
    assert any(f.kind == "edited" and "catalog entry differs" in f.message for f in report.findings)
    assert any(f.kind == "deleted" for f in report.findings)  # the anchor no longer meets the live rows


@postgres
def test_export_writes_a_private_file_drops_the_table_and_still_verifies(aged, tmp_path):
    path = tmp_path / "history-2024.jsonl"
    report = services.archive_history(older_than_days=days_since(month(-21)), export_to=str(path))
    assert report.exported_to == str(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    archive = HistoryArchive.objects.get()
    assert lines[0]["checkpoint"]["checkpoint_id"] == archive.checkpoint_id and len(lines) == 5
    assert [line["id"] for line in lines[1:]] == aged[:4] and lines[1]["created_at"].endswith("+00:00")
    assert archive.exported_to == str(path) and _missing(archive.table_name)
    assert services.verify_history(archive=True).ok
    lines[2]["change_reason"] = "rewritten"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert [f.kind for f in services.verify_history(archive=True).findings] == ["edited"]
    path.unlink()
    found = services.verify_history(archive=True).findings
    assert [f.kind for f in found] == ["missing"] and "which is gone" in found[0].message


def _missing(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NULL", [table])
        return cursor.fetchone()[0]


@postgres
def test_export_refuses_an_existing_file_before_anything_moves(aged, tmp_path):
    path = tmp_path / "taken.jsonl"
    path.write_text("keep me\n")
    with pytest.raises(CommandError, match="the file exists"):
        call_command("archive_history", "--older-than", str(days_since(month(-21))), "--export", str(path))
    assert path.read_text() == "keep me\n" and not HistoryArchive.objects.exists()
    with pytest.raises(CommandError, match="does not exist"):
        call_command("archive_history", "--export", str(tmp_path / "no" / "such.jsonl"))


# ------------------------------------------------------------------------------------------------ queries


def _plan(query) -> str:
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@postgres
def test_history_pages_prune_to_the_months_they_need(aged):
    old = month(-20)
    one_month = history.HistoryFilters(since=old, until=month(-19) - datetime.timedelta(days=1))
    plan = _plan(one_month.apply(ConfigurationHistory.objects.all()).order_by("-created_at", "-id")[:51])
    assert f"configuration_history_{old:%Y_%m}" in plan
    assert plan.count("configuration_history_2") == 1 and "configuration_history_default" not in plan
    entries, _ = history.page(one_month)
    assert [entry.row.pk for entry in entries] == [aged[5], aged[4]]


@postgres
def test_a_deep_keyset_page_skips_the_later_months(aged):
    first, cursor = history.page(history.HistoryFilters(), size=5)
    assert cursor and [e.row.pk for e in first] == aged[::-1][:5]
    deeper, _ = history.page(history.HistoryFilters(), before=cursor, size=5)
    assert [e.row.pk for e in deeper] == aged[::-1][5:]
    later = f"on configuration_history_{month(3):%Y_%m} configuration_history"  # the page's own scan of it
    assert later in _plan(history.page_query(history.HistoryFilters())[:6])
    assert later not in _plan(history.page_query(history.HistoryFilters(), before=cursor)[:6])


@postgres
def test_the_history_page_shows_a_checkpoint_as_the_archive_it_records(admin_client, aged):
    services.archive_history(older_than_days=days_since(month(-21)))
    page = admin_client.get("/admin/configurations/history/").content.decode()
    assert f"configuration_history_{month(-30):%Y_%m} archived (4 rows)" in page
    assert "archive checkpoint" in page and "None.None" not in page


@postgres
@pytest.mark.django_db(transaction=True)
def test_moving_rows_out_of_the_default_partition_vacuums_it(archiving, written):
    move_to(written[:3], month(-30))

    def vacuums() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT pg_stat_get_vacuum_count('configuration_history_default'::regclass)")
            return cursor.fetchone()[0]

    before = vacuums()
    assert partitions.ensure_partitions() == [f"configuration_history_{month(-30):%Y_%m}"]
    assert vacuums() == before + 1  # its dead tuples gone now, not whenever autovacuum comes
    assert partitions.ensure_partitions() == [] and vacuums() == before + 1  # nothing moved, nothing vacuumed


@postgres
@pytest.mark.django_db(transaction=True)
def test_make_serve_creates_the_partitions_ahead_before_it_serves():
    lines = subprocess.run(["make", "-n", "serve"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    commands = [line for line in lines.splitlines() if not line.startswith("#")]
    step = next(line for line in commands if "manage.py history_partitions" in line)
    position = {name: next(i for i, line in enumerate(commands) if name in line)
                for name in ("manage.py migrate", "manage.py history_partitions", "gunicorn")}  # fmt: skip
    assert position["manage.py migrate"] < position["manage.py history_partitions"] < position["gunicorn"]
    ahead = f"configuration_history_{month(2):%Y_%m}"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {ahead}")  # empty: a month ahead
    done = subprocess.run(["bash", "-c", step], cwd=ROOT, env=subprocess_env(), capture_output=True, text=True)
    assert done.returncode == 0 and f"Created {ahead}" in done.stdout, done.stderr
    assert ahead in {p.name for p in partitions.partitions(count_rows=False)}
