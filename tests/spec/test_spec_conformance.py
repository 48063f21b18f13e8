"""The spec's own SQL runs unchanged against the migrated PostgreSQL database."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from django.db.utils import ProgrammingError

from configurations.models import ConfigurationMetadata, ConfigurationTemplate, SystemConfiguration, User
from tests.spec_document import statement, with_named_params

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

SPEC_USER = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")


def _run(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.description is None:
            return None
        columns = [col.name for col in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def spec_data(db):
    """The spec's sample INSERTs for all four tables, run verbatim."""
    User.objects.create(id=SPEC_USER, username="spec-admin", email="admin@example.com")
    # The shipped SMTP metadata and templates are the same rows as the samples.
    ConfigurationMetadata.objects.filter(category="smtp").delete()
    ConfigurationTemplate.objects.filter(category="smtp").delete()
    _run(statement("INSERT INTO system_configurations (category, config_key, config_value, value_type"))
    _run(statement("INSERT INTO configuration_metadata (category, config_key, display_name"))
    _run(statement("INSERT INTO configuration_templates (provider_name, category, template_data"))
    ids = dict(SystemConfiguration.objects.values_list("config_key", "id"))
    # The history sample names config ids 1 and 2: the host and the port in a fresh database.
    sample = statement("INSERT INTO configuration_history (config_id, old_value")
    sample = sample.replace("\n(1, ", f"\n({ids['host']}, ").replace("\n(2, ", f"\n({ids['port']}, ")
    _run(sample)
    return ids


def test_sample_inserts_fill_every_default(spec_data):
    port = SystemConfiguration.objects.get(config_key="port")
    assert (port.is_encrypted, port.is_active, port.updated_by_id) == (False, True, SPEC_USER)
    assert port.created_at and port.updated_at
    meta = ConfigurationMetadata.objects.get(category="smtp", config_key="auth_pass")
    assert (meta.input_type, meta.sort_order, meta.is_required) == ("password", 5, True)
    assert meta.validation_rules == {"required": True, "minLength": 8}
    gmail = ConfigurationTemplate.objects.get(provider_name="gmail")
    assert gmail.is_active and gmail.template_data["configs"]["host"] == "smtp.gmail.com"
    assert ConfigurationTemplate.objects.count() == 3


def test_production_smtp_joined_with_metadata(spec_data):
    rows = _run(statement("SELECT c.*, m.display_name, m.group_name"))
    assert [(r["config_key"], r["display_name"], r["group_name"]) for r in rows] == [
        ("host", "SMTP Host", "Connection Settings"),
        ("port", "SMTP Port", "Connection Settings"),
        ("secure", "Use SSL/TLS", "Security Settings"),
        ("auth_user", "Username", "Authentication"),
        ("auth_pass", "Password", "Authentication"),
    ]


def test_configuration_with_full_history(spec_data):
    sql = with_named_params(statement("SELECT \n  c.*,\n  array_agg("))
    [row] = _run(sql, {"p1": spec_data["port"]})
    changes = [entry for entry in row["history"] if entry["reason"]]
    assert [(c["old_value"], c["new_value"], c["changed_by"]) for c in changes] == [("25", "587", "admin@example.com")]


def test_ui_form_structure_as_written_is_ambiguous(spec_data):
    sql = with_named_params(statement("SELECT \n  group_name,"))
    with pytest.raises(ProgrammingError, match='column reference "config_key" is ambiguous'):
        _run(sql, {"p1": "smtp", "p2": "production"})


def test_ui_form_structure_with_qualified_key(spec_data):
    sql = with_named_params(statement("SELECT \n  group_name,")).replace("'key', config_key", "'key', m.config_key")
    rows = _run(sql, {"p1": "smtp", "p2": "production"})
    assert [r["group_name"] for r in rows] == ["Connection Settings", "Security Settings", "Authentication"]
    assert [f["key"] for f in rows[0]["fields"]] == ["host", "port"]
    assert rows[0]["fields"][1]["currentValue"] == "587"
    assert [f["key"] for f in rows[2]["fields"]] == ["auth_user", "auth_pass"]


def test_template_with_variable_definitions(spec_data):
    sql = with_named_params(statement("SELECT \n  provider_name,\n  category,\n  description,"))
    [row] = _run(sql, {"p1": "sendgrid", "p2": "smtp"})
    # Django reads jsonb as text and leaves decoding to JSONField.
    assert json.loads(row["config_template"])["auth_user"] == "apikey"
    assert [v["name"] for v in json.loads(row["variables"])] == ["SENDGRID_API_KEY"]


def test_change_history_with_user_details(spec_data):
    sql = with_named_params(statement("SELECT \n  h.*,\n  c.category,"))
    rows = _run(sql, {"p1": spec_data["host"], "p2": 10, "p3": 0})
    assert rows[0]["change_reason"] == "Switch back to Gmail for better reliability"
    assert rows[0]["changed_by_username"] == "spec-admin"
    assert str(rows[0]["ip_address"]) == "192.168.1.100"
    # The trigger recorded the sample INSERT itself too: creation, by the row's updated_by.
    assert {r["action"] for r in rows} == {"create", "update"}


def test_recent_changes(spec_data):
    rows = _run(statement("SELECT \n  h.created_at,\n  c.category,"))
    reasons = {r["change_reason"] for r in rows}
    assert "Use STARTTLS instead of plain connection" in reasons
    assert {r["environment"] for r in rows} == {"production"}


def test_migration_from_environment_variables(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.smtp_host', 'mail.example.org', false)")
        try:
            _run(statement("-- Migrate existing environment-based SMTP config"))
        finally:
            cursor.execute("RESET app.smtp_host")
    assert SystemConfiguration.objects.get(category="smtp", config_key="host").config_value == "mail.example.org"


def test_archive_statement_runs_as_written(spec_data):
    old = _run("SELECT id FROM configuration_history ORDER BY id")
    _run("UPDATE configuration_history SET created_at = created_at - interval '3 years'")
    _run(statement("WITH archived AS ("))
    assert _run("SELECT count(*) AS n FROM configuration_history")[0]["n"] == 0
    assert [r["id"] for r in _run("SELECT id FROM configuration_history_archive ORDER BY id")] == [r["id"] for r in old]
