"""A write of its own on PostgreSQL in two round trips (data/optimistic.py, services/writes.py; issue 24).

It reads and validates without a lock, then takes the category's lock and writes in one message that PostgreSQL rolls
back whole if anything it read changed; the locked path then decides. Here other writers really commit between the
read and the write (a thread of their own, through the services), and what lands is checked in the history.
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from configurations import runtime, services
from configurations.core import crypto
from configurations.data import optimistic
from configurations.models import ConfigurationHistory, ConfigurationMetadata, SystemConfiguration
from configurations.runtime import snapshots
from configurations.services import writes
from tests.factories import MetadataFactory, editor_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROD = {"category": "smtp", "environment": "production"}


def _in_another_thread(work) -> None:
    """Run ``work`` on a connection of its own and wait for it to commit."""
    failures = []

    def run():
        try:
            work()
        except Exception as error:  # re-raised below, in the test's thread
            failures.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not failures, failures


@pytest.fixture
def meanwhile(monkeypatch):
    """``meanwhile(work)``: ``work`` commits in another thread after the next write has read, before it writes."""
    pending = []
    planned = writes.plans_from

    def plans_then_interfere(*args, **kwargs):
        plans = planned(*args, **kwargs)
        while pending:
            _in_another_thread(pending.pop(0))
        return plans

    monkeypatch.setattr(writes, "plans_from", plans_then_interfere)
    return pending.append


def _statements(captured) -> list[str]:
    return [q["sql"].split()[0] for q in captured.captured_queries]


def _entries(key: str) -> list[ConfigurationHistory]:
    return list(ConfigurationHistory.objects.filter(config_key=key).order_by("id"))


def test_a_write_of_its_own_is_two_round_trips_with_its_whole_audit(django_assert_num_queries):
    """The reads; then the lock with the audit context, and the write whose triggers chain the history and notify."""
    actor = editor_of("production", username="editor")
    services.set_value(key="host", value="a.example.com", **PROD)
    actor.get_all_permissions()  # the user's permissions, as a request has them loaded (data/accounts.py)
    with django_assert_num_queries(2) as captured:
        services.apply_changes([services.Change("smtp", "host", "production", "b.example.com")], actor=actor,
                               reason="why", ip_address="203.0.113.9", user_agent="probe/1")  # fmt: skip
    assert _statements(captured) == ["SELECT", "EXECUTE"]  # the write, prepared on the connection
    assert "config_write_or_read" in captured.captured_queries[1]["sql"]
    entry = _entries("host")[-1]
    assert (entry.old_value, entry.new_value, entry.change_reason) == ("a.example.com", "b.example.com", "why")
    assert (entry.changed_by_id, str(entry.ip_address), entry.user_agent) == (actor.pk, "203.0.113.9", "probe/1")
    assert not connection.in_atomic_block and connection.connection.info.transaction_status == 0  # idle, committed
    assert services.verify_history().ok


def test_the_write_notifies_runtime_readers_at_commit():
    services.set_value(key="host", value="a.example.com", **PROD)
    listener = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    try:
        listener.execute("LISTEN configurations_changed")
        services.set_value(key="host", value="b.example.com", **PROD)
        payloads = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    finally:
        listener.close()
    assert payloads == ["UPDATE"]


def test_a_row_changed_after_the_read_is_not_overwritten_blindly(meanwhile, django_assert_max_num_queries):
    """The other writer's change lands first and stays in the history; ours is written after it, on the locked path,
    as a change from the other writer's value."""
    services.set_value(key="host", value="a.example.com", **PROD)
    meanwhile(lambda: services.set_value(key="host", value="other.example.com", reason="other", **PROD))
    services.set_value(key="host", value="ours.example.com", reason="ours", **PROD)
    entries = _entries("host")[-2:]
    assert [(e.old_value, e.new_value, e.change_reason) for e in entries] == [
        ("a.example.com", "other.example.com", "other"),
        ("other.example.com", "ours.example.com", "ours"),
    ]
    assert services.get_value(key="host", **PROD) == "ours.example.com"
    assert services.verify_history().ok


def test_nothing_of_a_stale_write_of_several_rows_lands(meanwhile):
    """One of two rows changed after the read: the message wrote neither (no history of a half), then the locked path
    wrote both."""
    services.set_value(key="host", value="h1", **PROD)
    services.set_value(key="user", value="u1", **PROD)
    before = ConfigurationHistory.objects.count()
    meanwhile(lambda: services.set_value(key="user", value="u-other", **PROD))
    services.apply_changes([services.Change("smtp", "host", "production", "h2"),
                            services.Change("smtp", "user", "production", "u2")], reason="both")  # fmt: skip
    added = list(ConfigurationHistory.objects.order_by("id")[before:])
    assert [(e.config_key, e.old_value, e.new_value) for e in added] == [
        ("user", "u1", "u-other"),
        ("host", "h1", "h2"),
        ("user", "u-other", "u2"),
    ]


def test_metadata_changed_after_the_read_validates_again_under_the_lock(meanwhile):
    """The value passed the rules it read; the rules changed before the write, and the locked path refuses it."""
    MetadataFactory(category="smtp", config_key="host", validation_rules={"maxLength": 100})
    services.set_value(key="host", value="a.example.com", **PROD)

    def tighten():
        ConfigurationMetadata.objects.filter(category="smtp", config_key="host").update(
            validation_rules={"maxLength": 5}
        )

    meanwhile(tighten)
    with pytest.raises(ValidationError, match=r"smtp\.host"):
        services.set_value(key="host", value="longer.example.com", **PROD)
    assert services.get_value(key="host", **PROD) == "a.example.com"
    assert [e.new_value for e in _entries("host")] == ["a.example.com"]


def test_a_review_policy_set_after_the_read_stops_the_write(meanwhile):
    services.set_value(key="host", value="a.example.com", **PROD)
    meanwhile(lambda: services.set_policy("production", approvals=1, reason="freeze"))
    with pytest.raises(services.ReviewRequired):
        services.set_value(key="host", value="b.example.com", **PROD)
    assert services.get_value(key="host", **PROD) == "a.example.com"


def test_a_protected_environment_takes_the_locked_path_and_its_gate(django_assert_num_queries):
    services.set_value(key="host", value="a.example.com", **PROD)
    services.set_policy("production", approvals=1)
    with pytest.raises(services.ReviewRequired):
        services.set_value(key="host", value="b.example.com", **PROD)
    assert services.get_value(key="host", **PROD) == "a.example.com"


def test_a_new_key_is_created_on_the_locked_path(django_assert_num_queries):
    """Creating a row is serialised by the category lock held from before the read: the optimistic read, then the
    four round trips of the locked path."""
    with django_assert_num_queries(5) as captured:
        services.set_value(key="new", value="v", **PROD)
    assert _statements(captured) == ["SELECT", "BEGIN", "SELECT", "INSERT", "COMMIT"]
    assert [e.action for e in _entries("new")] == ["create"]


def test_an_unchanged_value_is_one_round_trip_and_writes_nothing(django_assert_num_queries):
    services.set_value(key="host", value="a.example.com", **PROD)
    with django_assert_num_queries(1):
        services.set_value(key="host", value="a.example.com", **PROD)
    assert len(_entries("host")) == 1


def _prepared_writes() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name = 'config_write_or_read'")
        return [statement for (statement,) in cursor.fetchall()]


def test_the_write_is_one_statement_that_postgresql_plans_once_per_connection(django_assert_num_queries):
    """The write is prepared on the connection the first time (CONFIG_DB_PREPARE, on by default); each write is then
    one EXECUTE of it, which PostgreSQL neither parses nor plans again, with every row audited."""
    services.set_value(key="host", value="new.example.com", **PROD)  # a new key: the locked path creates it
    for n in range(3):
        with django_assert_num_queries(2 if n == 0 else 1) as captured:  # the first: the read, then the write
            services.set_value(key="host", value=f"v{n}.example.com", **PROD)
        assert captured.captured_queries[-1]["sql"].startswith("EXECUTE config_write_or_read(")
    assert _prepared_writes() == [optimistic.prepare_sql()]
    assert [e.new_value for e in _entries("host")] == ["new.example.com"] + [f"v{n}.example.com" for n in range(3)]


def test_config_db_prepare_off_sends_the_statement_itself(settings, django_assert_num_queries):
    """Behind a transaction-pooling PgBouncer no session keeps a prepared statement: the write is sent whole."""
    settings.CONFIG_DB_PREPARE = False
    services.set_value(key="host", value="new.example.com", **PROD)
    services.set_value(key="host", value="a.example.com", **PROD)
    with django_assert_num_queries(1) as captured:
        services.set_value(key="host", value="b.example.com", **PROD)
    assert captured.captured_queries[0]["sql"].startswith(optimistic.write_sql().partition("%s")[0])
    assert services.get_value(key="host", **PROD) == "b.example.com"


def test_a_prepared_write_the_session_lost_is_prepared_again(django_assert_num_queries):
    """DISCARD ALL (a pooler's reset, say) drops it: the write that finds it gone is refused whole, and is read and
    written again, preparing it again."""
    services.set_value(key="host", value="new.example.com", **PROD)
    services.set_value(key="host", value="a.example.com", **PROD)
    assert _prepared_writes() == [optimistic.prepare_sql()]
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE config_write_or_read")
    with django_assert_num_queries(3) as captured:  # the lost statement, the read, the write
        services.set_value(key="host", value="b.example.com", **PROD)
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["EXECUTE", "SELECT", "EXECUTE"]
    assert _prepared_writes() == [optimistic.prepare_sql()]
    assert [e.new_value for e in _entries("host")][-2:] == ["a.example.com", "b.example.com"]
    assert services.verify_history().ok


def test_a_database_below_migration_0032_is_written_on_the_locked_path():
    """Before migration 0032 there is no write that answers a read: nothing is written by this path, and the locked
    path writes the value with its history."""
    from django.core.management import call_command

    services.set_value(key="host", value="a.example.com", **PROD)
    call_command("migrate", "configurations", "0031", verbosity=0)
    try:
        services.set_value(key="host", value="b.example.com", **PROD)
        assert [e.new_value for e in _entries("host")] == ["a.example.com", "b.example.com"]
    finally:
        call_command("migrate", verbosity=0)
    services.set_value(key="host", value="c.example.com", **PROD)
    assert services.get_value(key="host", **PROD) == "c.example.com"
    assert services.verify_history().ok


def test_an_open_transaction_keeps_the_locked_path():
    services.set_value(key="host", value="a.example.com", **PROD)
    with transaction.atomic():
        assert not optimistic.applies()
        services.set_value(key="host", value="b.example.com", **PROD)
    assert services.get_value(key="host", **PROD) == "b.example.com"


# ---------------------------------------------------------------------------- what a connection remembers


def test_the_next_write_of_a_key_is_one_round_trip(django_assert_num_queries):
    """The connection remembers the row as it wrote it, with its new version: the next write skips the read."""
    services.set_value(key="host", value="a.example.com", **PROD)
    services.set_value(key="host", value="b.example.com", **PROD)  # the read, then the write
    with django_assert_num_queries(1) as captured:
        services.set_value(key="host", value="c.example.com", reason="third", **PROD)
    assert "config_write_or_read" in captured.captured_queries[0]["sql"]
    assert [(e.old_value, e.new_value) for e in _entries("host")][-2:] == [
        ("a.example.com", "b.example.com"),
        ("b.example.com", "c.example.com"),
    ]
    assert services.verify_history().ok


def _written_elsewhere(key: str, value: str, reason: str, *, value_type=None, is_encrypted=None) -> None:
    """Another process's write (of the value, and the type or encryption given): a session of its own, which this
    process's memory knows nothing of."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other, other.transaction():
        other.execute("SELECT set_config('app.reason', %s, true)", [reason])
        other.execute(
            "UPDATE system_configurations SET config_value = %s, value_type = COALESCE(%s, value_type), "
            "is_encrypted = COALESCE(%s, is_encrypted) WHERE category = 'smtp' AND config_key = %s "
            "AND environment = 'production'",
            [value, value_type, is_encrypted, key],
        )


def test_a_plaintext_value_another_process_changed_is_written_over_in_one_round_trip(django_assert_num_queries):
    """The remembered version is stale, but only the value moved: the plan made on the remembered row is the one a
    fresh read would give, so the write lands in its one round trip, over the other process's value (migration 0033),
    as the locked path would have written it."""
    services.set_value(key="host", value="a.example.com", **PROD)
    services.set_value(key="host", value="b.example.com", **PROD)
    _written_elsewhere("host", "other.example.com", "other")
    with django_assert_num_queries(1) as captured:
        services.set_value(key="host", value="ours.example.com", reason="ours", **PROD)
    assert "config_write_or_read" in captured.captured_queries[0]["sql"]
    assert [(e.old_value, e.new_value, e.change_reason) for e in _entries("host")][-2:] == [
        ("b.example.com", "other.example.com", "other"),
        ("other.example.com", "ours.example.com", "ours"),
    ]
    with django_assert_num_queries(1):
        services.set_value(key="host", value="next.example.com", **PROD)
    assert services.get_value(key="host", **PROD) == "next.example.com"
    assert services.verify_history().ok


def test_the_value_another_process_already_wrote_is_not_written_again(django_assert_num_queries):
    """Another process wrote the very value: the write answers the row instead, the value planned on it is unchanged,
    and no history is added."""
    services.set_value(key="host", value="a.example.com", **PROD)
    services.set_value(key="host", value="b.example.com", **PROD)
    _written_elsewhere("host", "same.example.com", "other")
    count = len(_entries("host"))
    with django_assert_num_queries(1) as captured:  # the write that answered the row instead; nothing to write
        services.set_value(key="host", value="same.example.com", **PROD)
    assert "config_write_or_read" in captured.captured_queries[0]["sql"]
    assert len(_entries("host")) == count
    with django_assert_num_queries(1):  # remembered as it is now
        services.set_value(key="host", value="c.example.com", **PROD)


def test_a_row_another_process_retyped_is_answered_by_the_refused_write(django_assert_num_queries):
    """The remembered row's type changed since: the write writes nothing and answers the row as it is now, on which
    the value is planned again and written: two round trips, as reading first would have cost (migration 0032)."""
    services.set_value(key="port", value="25", **PROD)
    services.set_value(key="port", value="26", **PROD)
    _written_elsewhere("port", "587", "other", value_type="number")
    with django_assert_num_queries(2) as captured:  # the write that answered the row instead, the write
        services.set_value(key="port", value="2525", reason="ours", **PROD)
    assert ["config_write_or_read" in q["sql"] for q in captured.captured_queries] == [True, True]
    entry = _entries("port")[-1]
    assert (entry.old_value, entry.new_value, entry.new_value_type) == ("587", "2525", "number")
    with django_assert_num_queries(1):
        services.set_value(key="port", value="2526", **PROD)
    assert services.verify_history().ok


def test_a_value_is_planned_again_on_what_the_refused_write_answered(django_assert_num_queries):
    """The row another process changed is now a secret: the value planned again on the row the refused write answered
    is encrypted as one, so the plaintext planned on the remembered row never lands."""
    services.set_value(key="endpoint", value="plain", **PROD)
    services.set_value(key="endpoint", value="plain-2", **PROD)  # remembered as plain text
    envelope = crypto.encrypt("s3cret", environment="production", category="smtp", key="endpoint")
    _written_elsewhere("endpoint", envelope, "other", is_encrypted=True)
    with django_assert_num_queries(2):  # the write answered the encrypted row instead, then the write
        services.set_value(key="endpoint", value="rotated", **PROD)
    row = SystemConfiguration.objects.get(config_key="endpoint", environment="production")
    assert row.is_encrypted and crypto.is_envelope(row.config_value)
    assert services.get_value(key="endpoint", **PROD) == "rotated"


def test_what_another_thread_wrote_serves_the_next_write(django_assert_num_queries):
    """The memory is the process's: a request on another thread (another of a pool's sessions) wrote the key last."""
    services.set_value(key="host", value="a.example.com", **PROD)
    _in_another_thread(lambda: services.set_value(key="host", value="b.example.com", reason="other", **PROD))
    with django_assert_num_queries(1):
        services.set_value(key="host", value="c.example.com", **PROD)
    assert [(e.old_value, e.new_value) for e in _entries("host")][-1] == ("b.example.com", "c.example.com")


def test_a_refusal_decided_on_remembered_rules_is_not_final():
    """Rules loosened by another connection: the value the remembered rules refuse is written; rules tightened: the
    value they allow is refused, and nothing is written."""
    MetadataFactory(category="smtp", config_key="host", validation_rules={"maxLength": 5})
    services.set_value(key="host", value="a.com", **PROD)
    services.set_value(key="host", value="b.com", **PROD)  # remembered, with maxLength 5

    def rules(length):
        return lambda: ConfigurationMetadata.objects.filter(category="smtp", config_key="host").update(
            validation_rules={"maxLength": length}
        )

    _in_another_thread(rules(100))
    services.set_value(key="host", value="longer.example.com", **PROD)
    assert services.get_value(key="host", **PROD) == "longer.example.com"
    services.set_value(key="host", value="c.com", **PROD)  # remembered, with maxLength 100
    _in_another_thread(rules(5))
    with pytest.raises(ValidationError, match=r"smtp\.host"):
        services.set_value(key="host", value="longest.example.com", **PROD)
    assert services.get_value(key="host", **PROD) == "c.com"
    assert [e.new_value for e in _entries("host")][-1] == "c.com"


def test_the_caller_may_change_the_row_it_is_given():
    services.set_value(key="port", value="1", **PROD)
    services.set_value(key="port", value="2", **PROD)
    row = services.set_value(key="port", value="3", **PROD)
    row.value_type, row.config_value = "json", "{}"  # the caller's row is not the remembered one
    services.set_value(key="port", value="4", **PROD)
    entry = ConfigurationHistory.objects.filter(config_key="port").latest("id")
    assert (entry.old_value, entry.new_value, entry.new_value_type) == ("3", "4", "string")


@pytest.fixture
def watched(settings):
    """The runtime's snapshot of production, refreshed as its watcher does after a NOTIFY (``refresh()``)."""
    settings.CONFIG_ENVIRONMENT = "production"
    runtime.reset()
    services.set_value(key="host", value="a.example.com", **PROD)
    runtime.reload("production")
    yield lambda: snapshots.refresh(runtime._django_query, ["production"])
    runtime.reset()


def test_a_watcher_brings_what_another_process_wrote_into_the_memory(watched, django_assert_num_queries):
    """The refresh after another process's write remembers the row as that write left it, with its new version: the
    next write is one round trip, neither refused nor read first; the refresh after the process's own write changes
    nothing."""
    services.set_value(key="host", value="b.example.com", **PROD)  # remembered
    watched()
    with django_assert_num_queries(1):
        services.set_value(key="host", value="c.example.com", **PROD)
    _written_elsewhere("host", "other.example.com", "other")
    watched()
    with django_assert_num_queries(1) as captured:
        services.set_value(key="host", value="ours.example.com", reason="ours", **PROD)
    assert "config_write_or_read" in captured.captured_queries[0]["sql"]
    assert [(e.old_value, e.new_value) for e in _entries("host")][-1] == ("other.example.com", "ours.example.com")
    assert services.verify_history().ok
