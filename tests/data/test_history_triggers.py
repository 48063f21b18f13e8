"""Every change of a configuration is recorded exactly once, whatever the path, on both databases."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from configurations.audit import audit_context
from configurations.models import ConfigurationHistory, SystemConfiguration
from tests.factories import ConfigurationFactory, MetadataFactory, UserFactory, legacy_plaintext_secret

pytestmark = pytest.mark.django_db
ENVELOPE = "encrypted:AES256:v1:k1:bm9uY2U:Y2lwaGVy"  # the shape of one: the triggers never decrypt


def _raw(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _change_value(path: str, config: SystemConfiguration, value: str) -> None:
    if path == "save":
        config.config_value = value
        config.save()
    elif path == "queryset_update":
        SystemConfiguration.objects.filter(pk=config.pk).update(config_value=value)
    elif path == "bulk_update":
        config.config_value = value
        SystemConfiguration.objects.bulk_update([config], ["config_value"])
    elif path == "raw_sql":
        _raw("UPDATE system_configurations SET config_value = %s WHERE id = %s", [value, config.pk])
    else:  # pragma: no cover
        raise AssertionError(path)


UPDATE_PATHS = ["save", "queryset_update", "bulk_update", "raw_sql"]


@pytest.mark.parametrize("path", UPDATE_PATHS)
def test_value_change_is_recorded_once_with_context(path, user, history):
    config = ConfigurationFactory(category="smtp", config_key="port", config_value="25", value_type="number")
    with audit_context(actor=user, reason="use STARTTLS", ip_address="192.0.2.7", user_agent="pytest/1"):
        _change_value(path, config, "587")

    [row] = history.rows(action="update")
    assert (row.config_id, row.old_value, row.new_value) == (config.pk, "25", "587")
    assert (row.category, row.config_key, row.environment) == ("smtp", "port", "development")
    assert row.changed_by == user
    assert row.change_reason == "use STARTTLS"
    assert row.ip_address == "192.0.2.7"
    assert row.user_agent == "pytest/1"
    assert (row.old_value_type, row.new_value_type) == ("number", "number")
    config.refresh_from_db()
    assert config.updated_by == user
    assert row.created_at == config.updated_at


@pytest.mark.parametrize("path", UPDATE_PATHS)
def test_write_that_changes_nothing_writes_no_history(path, history):
    config = ConfigurationFactory(config_value="same")
    config.refresh_from_db()
    before = config.updated_at
    with audit_context(reason="no-op"):
        _change_value(path, config, "same")
    assert history.rows(action="update") == []
    config.refresh_from_db()
    assert config.updated_at == before


def test_insert_through_orm_records_creation(user, history):
    with audit_context(actor=user, reason="new key"):
        config = SystemConfiguration.objects.create(category="app", config_key="x", config_value="1")
    [row] = history.rows()
    assert (row.action, row.config_id, row.old_value, row.new_value) == ("create", config.pk, None, "1")
    assert (row.changed_by, row.change_reason) == (user, "new key")
    assert (row.old_value_type, row.new_value_type, row.new_is_encrypted) == (None, "string", False)


def test_insert_through_raw_sql_records_creation_with_database_defaults(history):
    _raw("INSERT INTO system_configurations (category, config_key, config_value) VALUES ('app', 'raw', 'v')")
    [row] = history.rows()
    assert (row.action, row.category, row.config_key, row.environment) == ("create", "app", "raw", "development")
    assert row.changed_by is None  # NULL means "unknown actor"; no fake user


def test_bulk_create_records_each_row(history):
    SystemConfiguration.objects.bulk_create(
        [SystemConfiguration(category="bulk", config_key=f"k{i}", config_value=str(i)) for i in range(5)]
    )
    assert [row.new_value for row in history.rows(action="create")] == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize("via", ["save", "queryset_update", "raw_sql"])
def test_soft_delete_and_reactivation_are_recorded(via, user, history):
    config = ConfigurationFactory(config_value="v")
    history.mark()

    def set_active(active: bool):
        if via == "save":
            config.is_active = active
            config.save()
        elif via == "queryset_update":
            SystemConfiguration.objects.filter(pk=config.pk).update(is_active=active)
        else:
            _raw("UPDATE system_configurations SET is_active = %s WHERE id = %s", [active, config.pk])

    with audit_context(actor=user, reason="retire"):
        set_active(False)
    with audit_context(actor=user, reason="bring back"):
        set_active(True)
    rows = history.rows()
    assert [(r.action, r.old_value, r.new_value, r.change_reason) for r in rows] == [
        ("deactivate", "v", "v", "retire"),
        ("reactivate", "v", "v", "bring back"),
    ]


def test_value_type_and_encryption_flag_changes_are_recorded(history):
    config = ConfigurationFactory(config_value="1")
    history.mark()
    SystemConfiguration.objects.filter(pk=config.pk).update(value_type="number")
    SystemConfiguration.objects.filter(pk=config.pk).update(is_encrypted=True, config_value=ENVELOPE)
    first, second = history.rows()
    assert (first.action, first.old_value_type, first.new_value_type) == ("update", "string", "number")
    assert (second.old_is_encrypted, second.new_is_encrypted) == (False, True)
    # Once a row is secret, history shows neither its old nor its new value.
    assert second.old_value == "[secret]" and second.new_value.startswith("[secret key=k1 sha256=")


@pytest.mark.parametrize("via", ["orm", "queryset", "raw_sql"])
def test_hard_delete_succeeds_is_recorded_and_keeps_earlier_history(via, user, history):
    config = ConfigurationFactory(category="smtp", config_key="host", config_value="a", environment="staging")
    config_id = config.pk
    SystemConfiguration.objects.filter(pk=config_id).update(config_value="b")
    with audit_context(actor=user, reason="cleanup"):
        if via == "orm":
            config.delete()
        elif via == "queryset":
            SystemConfiguration.objects.filter(pk=config_id).delete()
        else:
            _raw("DELETE FROM system_configurations WHERE id = %s", [config_id])

    assert not SystemConfiguration.objects.filter(pk=config_id).exists()
    rows = ConfigurationHistory.objects.filter(config_id=config_id).order_by("id")
    assert [(r.action, r.old_value, r.new_value) for r in rows] == [
        ("create", None, "a"),
        ("update", "a", "b"),
        ("delete", "b", None),
    ]
    assert {(r.category, r.config_key, r.environment) for r in rows} == {("smtp", "host", "staging")}
    assert (rows.last().changed_by, rows.last().change_reason) == (user, "cleanup")


def test_hard_delete_without_context_records_unknown_actor(history):
    config = ConfigurationFactory(updated_by=UserFactory())
    config.delete()
    [row] = history.rows(action="delete")
    assert row.changed_by is None


def test_raw_update_moves_updated_at(history):
    config = ConfigurationFactory(config_value="a")
    config.refresh_from_db()
    before = config.updated_at
    _raw(
        "UPDATE system_configurations SET config_value = 'b', updated_at = %s WHERE id = %s",
        [before.replace(year=2000), config.pk],
    )
    config.refresh_from_db()
    assert config.updated_at > before
    [row] = history.rows(action="update")
    assert row.created_at == config.updated_at


def test_raw_update_cannot_date_a_change_in_the_future(history):
    """Whatever the statement says, a changed row's updated_at (and so its history row's time) is the database's."""
    config = ConfigurationFactory(config_value="a")
    config.refresh_from_db()
    future = config.updated_at.replace(year=3000)
    _raw("UPDATE system_configurations SET config_value = 'b', updated_at = %s WHERE id = %s", [future, config.pk])
    config.refresh_from_db()
    assert config.updated_at < future.replace(year=2100)
    [row] = history.rows(action="update")
    assert row.created_at == config.updated_at


def test_password_keys_never_reach_history_in_the_clear(history):
    MetadataFactory(category="mail", config_key="password", input_type="password")
    config = legacy_plaintext_secret(category="mail", config_key="password", config_value="hunter2-plain")
    config.config_value, config.is_encrypted = ENVELOPE, True
    config.save()
    config.delete()
    values = [v for row in history.rows() for v in (row.old_value, row.new_value) if v]
    assert values, "the changes were recorded"
    assert not any("hunter2-plain" in v or "Y2lwaGVy" in v for v in values)
    assert "[secret]" in values
    assert any(v.startswith("[secret key=k1 sha256=") for v in values)


def test_secret_marker_is_the_same_on_both_databases():
    from configurations.data.sqlfunctions import history_value

    envelope = "encrypted:AES256:v1:primary:bm9uY2U:Y2lwaGVy"
    with connection.cursor() as cursor:
        cursor.execute("SELECT config_history_value(%s, %s), config_history_value(%s, %s)", [envelope, True, "x", True])
        in_sql = cursor.fetchone()
    assert in_sql == (history_value(envelope, True), history_value("x", True))
    assert in_sql[0].startswith("[secret key=primary sha256=")


def test_history_written_by_hand_gets_the_configuration_identity():
    config = ConfigurationFactory(category="smtp", config_key="host", environment="production")
    _raw(
        "INSERT INTO configuration_history (config_id, old_value, new_value) VALUES (%s, 'a', 'b')",
        [config.pk],
    )
    row = ConfigurationHistory.objects.filter(config_id=config.pk, old_value="a").get()
    assert (row.category, row.config_key, row.environment) == ("smtp", "host", "production")


@pytest.mark.django_db(transaction=True)
def test_context_of_one_transaction_never_reaches_the_next(history):
    actor = UserFactory(username="ctx-owner")
    config = ConfigurationFactory(config_value="0")
    with audit_context(actor=actor, reason="first", ip_address="192.0.2.1", user_agent="ua"):
        SystemConfiguration.objects.filter(pk=config.pk).update(config_value="1")
    # Autocommit statement on the same connection.
    SystemConfiguration.objects.filter(pk=config.pk).update(config_value="2")
    # A transaction that sets context by hand and commits without clearing it.
    with transaction.atomic():
        _raw("SELECT set_config('app.reason', 'leaky', true)")
        SystemConfiguration.objects.filter(pk=config.pk).update(config_value="3")
    with transaction.atomic():
        SystemConfiguration.objects.filter(pk=config.pk).update(config_value="4")
    rows = history.rows(action="update")
    assert [(r.new_value, r.changed_by_id, r.change_reason, r.ip_address) for r in rows] == [
        ("1", actor.pk, "first", "192.0.2.1"),
        ("2", None, None, None),
        ("3", None, "leaky", None),
        ("4", None, None, None),
    ]


@pytest.mark.django_db(transaction=True)
def test_rolled_back_change_leaves_no_history(history):
    config = ConfigurationFactory(config_value="0")
    with pytest.raises(RuntimeError), audit_context(reason="doomed"):
        SystemConfiguration.objects.filter(pk=config.pk).update(config_value="1")
        raise RuntimeError("boom")
    assert history.rows(action="update") == []
    config.refresh_from_db()
    assert config.config_value == "0"


def test_nested_context_inherits_and_restores(user, history):
    config = ConfigurationFactory(config_value="0")
    with audit_context(actor=user, ip_address="192.0.2.9"):
        with audit_context(reason="inner"):
            SystemConfiguration.objects.filter(pk=config.pk).update(config_value="1")
        SystemConfiguration.objects.filter(pk=config.pk).update(config_value="2")
    inner, outer = history.rows(action="update")
    assert (inner.changed_by, inner.ip_address, inner.change_reason) == (user, "192.0.2.9", "inner")
    assert (outer.changed_by, outer.ip_address, outer.change_reason) == (user, "192.0.2.9", None)
