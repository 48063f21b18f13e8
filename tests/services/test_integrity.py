"""The history's hash chain on both databases: written by the trigger, checked by verify_history."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from io import StringIO

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from configurations import services
from configurations.data import chain
from configurations.models import ConfigurationHistory, ConfigurationHistoryArchive, HistoryChainHead
from tests.factories import age_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(db):
    for index in range(6):
        services.set_value(category="app", key=f"k{index % 3}", environment="test", value=f"v{index}")
    services.set_value(category="smtp", key="auth_pass", environment="test", value="chain-secret-1")
    return list(ConfigurationHistory.objects.order_by("id"))


def verify(*args) -> tuple[str, str | None]:
    out = StringIO()
    try:
        call_command("verify_history", *args, stdout=out, stderr=StringIO())
    except CommandError as error:
        return out.getvalue(), str(error)
    return out.getvalue(), None


def execute(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_every_trigger_row_is_chained_to_the_one_before(trail):
    assert trail[0].prev_hash is None or ConfigurationHistory.objects.filter(row_hash=trail[0].prev_hash).exists()
    for previous, row in itertools.pairwise(trail):
        assert row.prev_hash == previous.row_hash
        values = [getattr(row, "config_id" if name == "config_id" else name) for name in chain.FIELDS]
        assert row.row_hash == chain.chain_hash(row.prev_hash, chain.content(*values))
    head = HistoryChainHead.objects.get()
    assert (head.last_id, head.last_hash) == (trail[-1].pk, trail[-1].row_hash)


def test_an_untouched_trail_passes_and_prints_its_head(trail):
    out, error = verify()
    assert error is None
    assert f"Head: {trail[-1].pk}:{trail[-1].row_hash}" in out
    assert verify("--expect-head", f"{trail[-1].pk}:{trail[-1].row_hash}")[1] is None


def test_an_edited_row_is_reported_by_id(trail):
    execute("UPDATE configuration_history SET change_reason = 'tampered' WHERE id = %s", [trail[2].pk])
    out, error = verify()
    assert error and f"#{trail[2].pk} was edited" in out
    assert out.count("was edited") == 1  # the rows after it still chain to its stored hash


def test_a_deleted_row_is_reported_with_the_gap(trail):
    execute("DELETE FROM configuration_history WHERE id = %s", [trail[3].pk])
    out, error = verify()
    assert error and f"rows between #{trail[2].pk} and #{trail[4].pk} were deleted" in out


def test_rows_deleted_at_the_end_are_reported(trail):
    execute("DELETE FROM configuration_history WHERE id >= %s", [trail[-2].pk])
    out, error = verify()
    assert error and f"the chain's head is #{trail[-1].pk}" in out


def test_a_row_inserted_outside_the_trigger_is_reported(trail):
    execute("INSERT INTO configuration_history (config_id, new_value, action, category, config_key, environment) "
            "VALUES (%s, 'forged', 'update', 'app', 'k0', 'test')", [trail[0].config_id])  # fmt: skip
    forged = ConfigurationHistory.objects.get(new_value="forged")
    out, error = verify()
    assert error and f"#{forged.pk} has no chain link" in out


def test_a_forged_row_with_a_plausible_link_is_found_by_the_row_after_it(trail):
    """Owner access, a forged row slipped into a gap with a self-consistent hash: the next row skips it."""
    victim = trail[3]
    execute("DELETE FROM configuration_history WHERE id = %s", [victim.pk])
    values = [getattr(victim, name) for name in chain.FIELDS]
    values[chain.FIELDS.index("new_value")] = "forged"
    forged_hash = chain.chain_hash(victim.prev_hash, chain.content(*values))
    execute("INSERT INTO configuration_history (id, config_id, new_value, action, category, config_key, environment,"
            " created_at, prev_hash, row_hash, old_value, changed_by, change_reason, ip_address, user_agent,"
            " old_value_type, new_value_type, old_is_encrypted, new_is_encrypted, is_secret)"
            " SELECT %s, config_id, 'forged', action, category, config_key, environment, created_at, %s, %s, old_value,"
            " changed_by, change_reason, ip_address, user_agent, old_value_type, new_value_type, old_is_encrypted,"
            " new_is_encrypted, is_secret FROM configuration_history WHERE id = %s",
            [victim.pk, victim.prev_hash, forged_hash, trail[2].pk])  # fmt: skip
    out, error = verify()
    assert error
    assert f"#{victim.pk} was edited" in out or f"#{victim.pk} was inserted outside the trigger" in out


def test_a_chain_rewritten_from_before_a_pinned_head_fails_the_pin(trail):
    pinned = f"{trail[-1].pk}:{trail[-1].row_hash}"
    # Rewrite: edit an early row and recompute every hash after it, as someone with owner access could.
    execute("UPDATE configuration_history SET change_reason = 'rewritten' WHERE id = %s", [trail[1].pk])
    previous = trail[0].row_hash
    for row in ConfigurationHistory.objects.filter(id__gte=trail[1].pk).order_by("id"):
        values = [getattr(row, name) for name in chain.FIELDS]
        digest = chain.chain_hash(previous, chain.content(*values))
        execute(
            "UPDATE configuration_history SET prev_hash = %s, row_hash = %s WHERE id = %s", [previous, digest, row.pk]
        )
        previous = digest
    execute("UPDATE configuration_history_head SET last_hash = %s", [previous])
    assert verify()[1] is None  # the rewrite is self-consistent...
    assert "no longer contains the head" in verify("--expect-head", pinned)[1]  # ...but the pinned head is gone


def test_archived_rows_stay_in_the_chain(trail):
    age_history([entry.pk for entry in trail], days=800)
    report = services.archive_history(older_than_days=730, batch_size=3)
    assert report.moved == len(trail)
    if connection.vendor == "sqlite":
        assert ConfigurationHistoryArchive.objects.count() == len(trail)
    services.set_value(category="app", key="after", environment="test", value="x")
    assert services.verify_history().ok and services.verify_history(archive=True).ok


def test_a_malformed_expected_head_is_a_clear_error(trail):
    with pytest.raises(CommandError, match="--expect-head: expected ID:HASH"):
        call_command("verify_history", "--expect-head", "nonsense", stdout=StringIO())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_the_chain():
    barrier = threading.Barrier(10)
    errors = []

    def write(index: int) -> None:
        try:
            barrier.wait()
            for round_ in range(3):
                services.set_value(category="race", key=f"k{index}", environment="test", value=f"{round_}")
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(index,)) for index in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = list(ConfigurationHistory.objects.filter(category="race").order_by("id"))
    assert len(rows) == 30
    prev_hashes = [row.prev_hash for row in ConfigurationHistory.objects.order_by("id")]
    assert len(prev_hashes) == len(set(prev_hashes))  # no two rows extend the same link: no fork
    assert services.verify_history().ok


def _lock_waits(observer) -> list[tuple]:
    """The locks this database's sessions wait for: (locktype, classid, objid, objsubid)."""
    return observer.execute(
        "SELECT locktype, classid::bigint, objid::bigint, objsubid FROM pg_locks WHERE NOT granted AND pid IN "
        "(SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
    ).fetchall()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_writer_waits_in_the_chains_lock_queue_not_on_the_head_row():
    """While a transaction extends the chain, a writer of another category waits for the chain's advisory lock, the
    lock manager's queue, and takes the head row's lock uncontended once it has it (issue 24): waiting on the row
    itself cost each waiter the row's tuple lock, the holder's transaction lock and a walk to its newest version."""
    for category in ("first", "second"):
        services.set_value(category=category, key="k", environment="test", value="a")
    holder = psycopg.connect(**connection.get_connection_params())  # in a transaction until it commits
    observer = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    errors, waits = [], []

    def write() -> None:
        try:
            services.set_value(category="second", key="k", environment="test", value="b")
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    writer = threading.Thread(target=write)
    try:
        holder.execute("UPDATE system_configurations SET config_value = 'b' WHERE category = 'first'")
        writer.start()
        deadline = time.monotonic() + 10
        while not waits and time.monotonic() < deadline:
            waits = _lock_waits(observer)
            time.sleep(0.01)
        holder.commit()
        writer.join(10)
    finally:
        holder.close()
        observer.close()
    assert errors == []
    assert waits == [("advisory", 1667655523, 1, 2)]  # pg_advisory_xact_lock(1667655523, 1)
    assert list(ConfigurationHistory.objects.order_by("-id").values_list("category", flat=True)[:2]) == [
        "second",
        "first",
    ]
    assert services.verify_history().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_repeatable_read_writer_whose_snapshot_missed_a_commit_is_refused_not_forked():
    """The chain's lock is no snapshot: a REPEATABLE READ transaction whose snapshot predates another writer's commit
    reads a stale head once it holds the lock, and the head row's lock and UPDATE refuse it instead of forking."""
    for category in ("first", "second"):
        services.set_value(category=category, key="k", environment="test", value="a")
    late = psycopg.connect(**connection.get_connection_params())
    late.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        late.execute("SELECT last_id FROM configuration_history_head")  # its snapshot, from here on
        services.set_value(category="first", key="k", environment="test", value="b")  # the head moves on
        with pytest.raises(psycopg.errors.SerializationFailure):
            late.execute("UPDATE system_configurations SET config_value = 'c' WHERE category = 'second'")
    finally:
        late.close()
    prev_hashes = [row.prev_hash for row in ConfigurationHistory.objects.order_by("id")]
    assert len(prev_hashes) == len(set(prev_hashes))
    assert services.verify_history().ok


@contextlib.contextmanager
def untriggered():
    """Writes that escape the history triggers, as a superuser could (PostgreSQL) or a dropped trigger (SQLite)."""
    if connection.vendor == "postgresql":
        execute("SET session_replication_role = replica")
        try:
            yield
        finally:
            execute("SET session_replication_role = DEFAULT")
        return
    from configurations.data import installation

    installation.drop_sqlite_triggers()
    try:
        yield
    finally:
        installation.reinstall_sqlite_triggers()


def test_a_value_changed_outside_the_history_is_named(trail):
    with untriggered():
        execute("UPDATE system_configurations SET config_value = 'unaudited' WHERE config_key = 'k0'")
    out, error = verify()
    assert error and "the history cannot be trusted" in error
    assert "unrecorded" in out and "app.k0 (test)" in out and "in value: a change escaped the history" in out
    assert out.count("unrecorded") == 1


def test_a_secret_changed_outside_the_history_is_found_by_its_digest_and_never_shown(trail):
    from configurations.core import crypto

    with untriggered():
        execute("UPDATE system_configurations SET config_value = %s WHERE config_key = 'auth_pass'",
                [crypto.encrypt("swapped-secret-9", environment="test", category="smtp", key="auth_pass")])  # fmt: skip
    out, error = verify()
    assert error and "smtp.auth_pass (test)" in out and "in value" in out
    assert "swapped-secret-9" not in out and "chain-secret-1" not in out


def test_type_activity_insert_and_delete_outside_the_history_are_each_found(trail):
    with untriggered():
        execute("UPDATE system_configurations SET is_active = %s, value_type = 'json' WHERE config_key = 'k1'",
                [False])  # fmt: skip
        execute("INSERT INTO system_configurations (category, config_key, config_value, environment, value_type, "
                "is_encrypted, is_active, created_at, updated_at) VALUES ('app', 'ghost', 'x', 'test', 'string', "
                "%s, %s, %s, %s)", [False, True, "2026-01-01 00:00:00", "2026-01-01 00:00:00"])  # fmt: skip
        execute("DELETE FROM system_configurations WHERE config_key = 'k2'")
    out, error = verify()
    assert error
    assert "app.k1 (test)" in out and "in type, active" in out
    assert "app.ghost (test)" in out and "has no history row" in out
    assert "app.k2 (test)" in out and "is gone, but its latest history row" in out
    assert out.count("unrecorded") == 3


def test_recorded_deactivation_reactivation_deletion_and_archive_leave_nothing_to_report(trail):
    services.deactivate(category="app", key="k0", environment="test")
    services.set_value(category="app", key="k0", environment="test", value="back")
    services.deactivate(category="app", key="k1", environment="test")
    execute("DELETE FROM system_configurations WHERE config_key = 'k2'")
    services.archive_history(older_than_days=0, batch_size=2)
    services.set_value(category="app", key="after", environment="test", value="y")
    report = services.verify_history()
    assert report.ok, [str(finding) for finding in report.findings]
