"""The database refuses a secret in the clear on every path, raw SQL included (migration 0017), on both engines;
a secret stored so before is served as a secret anyway, and the system check names it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from configurations import runtime, services
from configurations.data import secret_patterns
from configurations.models import SystemConfiguration
from tests.api.test_views import API, call, make_token
from tests.factories import MetadataFactory, editor_of, legacy_plaintext_secret

pytestmark = pytest.mark.django_db
ENVELOPE = "encrypted:AES256:v1:k1:bm9uY2U:Y2lwaGVy"
INSERT = "INSERT INTO system_configurations (category, config_key, config_value, environment, is_encrypted) " \
    "VALUES (%s, %s, %s, 'development', %s)"  # fmt: skip


def refused(sql: str, params) -> str:
    with pytest.raises(IntegrityError) as raised, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(raised.value)


def test_a_secret_named_key_in_the_clear_is_refused_by_sql():
    message = refused(INSERT, ["misc", "db_password", "hunter2-plain", False])
    assert "must be stored encrypted" in message
    if connection.vendor == "postgresql":  # SQLite's RAISE takes a constant message
        assert "misc.db_password [development]" in message
    assert not SystemConfiguration.objects.filter(config_key="db_password").exists()


def test_a_password_metadata_key_in_the_clear_is_refused_by_sql():
    MetadataFactory(category="mail", config_key="login", input_type="password")
    assert "must be stored encrypted" in refused(INSERT, ["mail", "login", "plain", False])


def test_an_encrypted_secret_cannot_be_turned_into_plaintext_or_a_fake_envelope_by_sql():
    services.set_value(category="smtp", key="auth_pass", environment="development", value="real-secret-1")
    update = "UPDATE system_configurations SET config_value = %s, is_encrypted = %s WHERE config_key = 'auth_pass'"
    assert "must be stored encrypted" in refused(update, ["plain-now", False])
    assert "is not an encrypted envelope" in refused(update, ["not-an-envelope", True])
    assert services.get_value(category="smtp", key="auth_pass", environment="development") == "real-secret-1"


def test_a_renamed_row_becomes_a_secret_name_and_is_refused():
    services.set_value(category="misc", key="colour", environment="development", value="blue")
    assert "must be stored encrypted" in refused(
        "UPDATE system_configurations SET config_key = 'colour_token' WHERE config_key = 'colour'", []
    )


def test_plain_keys_empty_secrets_envelopes_and_a_legacy_deactivation_are_accepted(history):
    with connection.cursor() as cursor:
        cursor.execute(INSERT, ["misc", "colour", "blue", False])
        cursor.execute(INSERT, ["misc", "empty_password", "", False])
        cursor.execute(INSERT, ["misc", "other_password", ENVELOPE, True])
    legacy = legacy_plaintext_secret(category="misc", config_key="old_token", config_value="legacy-1")
    assert services.deactivate(category="misc", key="old_token", environment="development") == 1
    assert not SystemConfiguration.objects.get(pk=legacy.pk).is_active
    assert SystemConfiguration.objects.filter(category="misc").count() == 4


def test_the_database_follows_the_setting(settings):
    settings.CONFIG_SECRET_KEY_PATTERNS = ["pin"]
    assert secret_patterns.stored() == {"pin"}
    assert "must be stored encrypted" in refused(INSERT, ["bank", "card_pin", "1234", False])
    with connection.cursor() as cursor:
        cursor.execute(INSERT, ["bank", "api_token", "no-longer-a-secret", False])


def test_a_pattern_is_a_substring_never_a_wildcard_and_a_bulk_statement_is_checked_row_by_row(settings):
    settings.CONFIG_SECRET_KEY_PATTERNS = ["api_key", "x.y"]
    for key in ("my_api_key", "MY_API_KEY_2", "a_x.y"):
        assert "must be stored encrypted" in refused(INSERT, ["misc", key, "plain", False]), key
    with connection.cursor() as cursor:  # "_" (LIKE's wildcard) and "." match themselves only
        for key in ("my_apiXkey", "api-key", "x_y", "xzy"):
            cursor.execute(INSERT, ["misc", key, "plain", False])
        cursor.execute("UPDATE system_configurations SET config_value = 'still plain' WHERE category = 'misc'")
    MetadataFactory(category="misc", config_key="xzy", input_type="password")
    message = refused("UPDATE system_configurations SET config_value = config_value || '!' WHERE category = 'misc'", [])
    assert "must be stored encrypted" in message
    assert SystemConfiguration.objects.filter(category="misc", config_value="still plain").count() == 4


def test_the_patterns_table_out_of_step_is_a_warning(settings):
    from configurations.checks import check_secrets_are_encrypted

    assert check_secrets_are_encrypted(databases=["default"]) == []
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM configuration_secret_patterns WHERE pattern = 'pass'")
    [warning] = check_secrets_are_encrypted(databases=["default"])
    assert warning.id == "configurations.W004" and "migrate" in warning.hint
    call_command("migrate", verbosity=0)
    assert check_secrets_are_encrypted(databases=["default"]) == []


def test_a_legacy_plaintext_secret_is_named_by_the_check_and_served_as_a_secret(client, settings):
    from configurations.checks import check_secrets_are_encrypted

    settings.CONFIG_ENVIRONMENT = "development"
    runtime.reset()
    MetadataFactory(category="misc", config_key="pin_code", input_type="password")
    legacy_plaintext_secret(category="misc", config_key="db_password", config_value="hunter2-plain")
    legacy_plaintext_secret(category="misc", config_key="pin_code", config_value="4242")
    services.set_value(category="misc", key="colour", environment="development", value="blue")
    [warning] = check_secrets_are_encrypted(databases=["default"])
    assert warning.id == "configurations.W005"
    assert "misc.db_password [development]" in warning.msg and "misc.pin_code [development]" in warning.msg
    assert "hunter2-plain" not in warning.msg and "rotate_encryption_keys" in warning.hint

    owner = editor_of("development", username="reader-owner")
    answer = call(client, "get", f"{API}/development/categories/misc/", make_token(owner, "development"))
    body = answer.json()
    assert answer.status_code == 200 and b"hunter2-plain" not in answer.content and b"4242" not in answer.content
    assert body["secret_keys"] == ["db_password", "pin_code"] and body["values"]["colour"] == "blue"
    assert body["values"]["db_password"] is None
    runtime.reset()
