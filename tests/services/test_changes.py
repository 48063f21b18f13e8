"""The service contract: set_value / get_value / deactivate / apply_changes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from configurations import services
from configurations.core import crypto, formats
from configurations.data import audit
from configurations.models import ConfigurationHistory, SystemConfiguration
from tests.factories import ConfigurationFactory, MetadataFactory

pytestmark = pytest.mark.django_db

PROD = {"category": "smtp", "environment": "production"}


def test_set_value_types_from_metadata_and_records_actor_and_reason(user, history):
    row = services.set_value(key="port", value="587", actor=user, reason="STARTTLS", **PROD)
    assert (row.config_value, row.value_type, row.is_encrypted, row.is_active) == ("587", "number", False, True)
    assert services.get_value(key="port", **PROD) == 587
    [entry] = history.rows()
    assert (entry.action, entry.new_value, entry.changed_by, entry.change_reason) == ("create", "587", user, "STARTTLS")


@pytest.mark.parametrize(
    ("value_type", "value", "typed"),
    [
        ("string", "hello", "hello"),
        ("number", "12.50", Decimal("12.50")),
        ("number", 7, 7),
        ("boolean", "TRUE", True),
        ("boolean", False, False),
        ("json", {"hosts": ["a", "b"]}, {"hosts": ["a", "b"]}),
    ],
)
def test_round_trip_every_type(value_type, value, typed):
    services.set_value(category="app", key=f"k_{value_type}", environment="test", value=value, value_type=value_type)
    assert services.get_value(category="app", key=f"k_{value_type}", environment="test") == typed


def test_checkbox_metadata_makes_booleans():
    MetadataFactory(category="feature", config_key="beta", input_type="checkbox")
    row = services.set_value(category="feature", key="beta", environment="test", value="True")
    assert (row.value_type, row.config_value) == ("boolean", "true")


def test_existing_row_keeps_its_type():
    services.set_value(category="app", key="n", environment="test", value="5", value_type="number")
    row = services.set_value(category="app", key="n", environment="test", value="6")
    assert row.value_type == "number"
    with pytest.raises(ValidationError, match=r"app\.n \[test\]: 'x' is not a number"):
        services.set_value(category="app", key="n", environment="test", value="x")


def test_rule_violation_names_the_key_and_rule_and_writes_nothing(history):
    with pytest.raises(ValidationError) as error:
        services.set_value(key="port", value="70000", **PROD)
    assert error.value.message_dict == {
        "smtp.port [production]": ["smtp.port [production]: SMTP Port must be at most 65535"]
    }
    assert error.value.error_dict["smtp.port [production]"][0].code == "max"
    assert not SystemConfiguration.objects.filter(config_key="port").exists()
    assert history.rows() == []


def test_unknown_environment_is_refused():
    with pytest.raises(ValidationError, match="unknown environment"):
        services.set_value(category="app", key="x", environment="qa", value="1")


def test_same_value_writes_nothing(history):
    services.set_value(key="host", value="smtp.gmail.com", **PROD)
    history.mark()
    services.set_value(key="host", value="smtp.gmail.com", **PROD)
    assert history.rows() == []


def test_secrets_are_encrypted_bound_to_their_row_and_not_re_encrypted(history):
    row = services.set_value(key="auth_pass", value="app-password-1", **PROD)
    assert row.is_encrypted and crypto.is_envelope(row.config_value)
    assert "app-password-1" not in row.config_value
    assert services.get_value(key="auth_pass", **PROD) == "app-password-1"
    envelope = row.config_value
    history.mark()
    services.set_value(key="auth_pass", value="app-password-1", **PROD)
    row.refresh_from_db()
    assert row.config_value == envelope  # the same secret is not encrypted twice
    assert history.rows() == []


def test_is_encrypted_flag_encrypts_keys_without_password_metadata():
    row = services.set_value(category="api", key="token", environment="test", value="tok-123", is_encrypted=True)
    assert row.is_encrypted and crypto.is_envelope(row.config_value)
    assert services.get_value(category="api", key="token", environment="test") == "tok-123"


def test_undecryptable_secret_raises_loudly():
    row = services.set_value(key="auth_pass", value="app-password-1", **PROD)
    SystemConfiguration.objects.filter(pk=row.pk).update(environment="staging")  # envelope now on another row
    with pytest.raises(crypto.DecryptionError, match=r"smtp\.auth_pass \[staging\]"):
        services.get_value(key="auth_pass", category="smtp", environment="staging")


def test_deactivate_is_the_soft_delete_and_get_value_ignores_inactive(user, history):
    services.set_value(key="host", value="smtp.gmail.com", **PROD)
    history.mark()
    assert services.deactivate(key="host", actor=user, reason="retire", **PROD) == 1
    assert SystemConfiguration.objects.filter(config_key="host").exists()
    with pytest.raises(services.ConfigurationNotFound, match=r"no active configuration smtp\.host \[production\]"):
        services.get_value(key="host", **PROD)
    with pytest.raises(KeyError):
        services.get_value(key="host", **PROD)
    [entry] = history.rows()
    assert (entry.action, entry.changed_by, entry.change_reason) == ("deactivate", user, "retire")
    services.set_value(key="host", value="smtp.gmail.com", **PROD)
    assert [e.action for e in history.rows()] == ["deactivate", "reactivate"]


def test_apply_changes_is_all_or_nothing_and_lists_every_problem(history):
    ConfigurationFactory(config_key="host", config_value="old.example.com", **PROD)
    changes = [
        services.Change("smtp", "host", "production", "new.example.com"),
        services.Change("smtp", "port", "production", "0"),
        services.Change("smtp", "secure", "production", "maybe"),
    ]
    history.mark()
    with pytest.raises(ValidationError) as error:
        services.apply_changes(changes, reason="batch")
    assert set(error.value.message_dict) == {"smtp.port [production]", "smtp.secure [production]"}
    assert SystemConfiguration.objects.get(config_key="host").config_value == "old.example.com"
    assert history.rows() == []


def test_apply_changes_writes_only_what_changed(history):
    services.set_value(key="host", value="a.example.com", **PROD)
    services.set_value(key="port", value="25", **PROD)
    history.mark()
    plans = services.apply_changes(
        [
            services.Change("smtp", "host", "production", "a.example.com"),
            services.Change("smtp", "port", "production", 587),
            services.Change("smtp", "auth_user", "production", "me@example.com"),
        ],
        reason="provider switch",
    )
    assert [p.outcome for p in plans] == ["unchanged", "change", "add"]
    assert sorted(e.config_key for e in history.rows()) == ["auth_user", "port"]
    assert {e.change_reason for e in history.rows()} == {"provider switch"}


def test_duplicates_in_one_batch_are_refused():
    change = services.Change("smtp", "host", "production", "a.example.com")
    with pytest.raises(ValidationError, match="given more than once"):
        services.apply_changes([change, change])


def test_model_validation_uses_the_same_engine():
    row = SystemConfiguration(
        category="smtp", config_key="port", environment="test", config_value="0", value_type="number"
    )
    with pytest.raises(ValidationError) as error:
        row.full_clean()
    assert "at most" not in str(error.value) and "SMTP Port must be at least 1" in str(error.value)
    assert [e.code for e in error.value.error_dict["config_value"]] == ["min"]  # the rule stays the code


def test_set_value_query_count_is_constant(django_assert_num_queries):
    services.set_value(key="host", value="a.example.com", **PROD)
    # Inside an enclosing transaction (this test's) that already holds the category's lock: a savepoint, the audit
    # context, the metadata and the locked row (one statement on PostgreSQL, two on SQLite), the review policy
    # (read with the lock on PostgreSQL), the write, the context handed back, the savepoint released.
    with django_assert_num_queries(6 if connection.vendor == "postgresql" else 8):
        services.set_value(key="host", value="b.example.com", **PROD)


def test_history_stores_no_secret_for_service_writes():
    services.set_value(key="auth_pass", value="first-password", **PROD)
    services.set_value(key="auth_pass", value="second-password", **PROD)
    values = " ".join(f"{e.old_value} {e.new_value}" for e in ConfigurationHistory.objects.all())
    assert "first-password" not in values and "second-password" not in values
    assert "encrypted:" not in values
    assert "[secret key=test sha256=" in values


def test_a_write_that_failed_leaves_no_audit_context_for_the_next_one(history):
    """A write's context is set by its lock's statement; one that fails before that leaves nothing that a later
    write of another path (here an import, whose context is set at once) could be recorded with."""
    with pytest.raises(ValidationError):
        services.set_value(key="port", value="not a port", value_type="number", reason="the failed one", **PROD)
    with transaction.atomic():
        assert audit.take_deferred() is None  # nothing waits to be set on the next write's transaction
    records = [formats.Record("smtp", "host", "production", "i.example.com", where="in.json: $.host")]
    services.import_records(records, reason="the import")
    assert [e.change_reason for e in history.rows()] == ["the import"]
