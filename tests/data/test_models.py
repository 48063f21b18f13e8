"""The tables mirror the spec: columns, types, defaults, constraints and indexes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from configurations.models import ConfigurationMetadata, SystemConfiguration
from tests.factories import ConfigurationFactory

pytestmark = pytest.mark.django_db

SPEC_COLUMNS = {
    "system_configurations": {
        "id": ("bigint", None),
        "category": ("character varying", 50),
        "config_key": ("character varying", 100),
        "config_value": ("text", None),
        "value_type": ("character varying", 20),
        "is_encrypted": ("boolean", None),
        "is_active": ("boolean", None),
        "environment": ("character varying", 20),
        "updated_by": ("uuid", None),
        "created_at": ("timestamp with time zone", None),
        "updated_at": ("timestamp with time zone", None),
    },
    "configuration_metadata": {
        "id": ("bigint", None),
        "category": ("character varying", 50),
        "config_key": ("character varying", 100),
        "display_name": ("character varying", 200),
        "description": ("text", None),
        "input_type": ("character varying", 20),
        "validation_rules": ("jsonb", None),
        "default_value": ("text", None),
        "is_required": ("boolean", None),
        "sort_order": ("integer", None),
        "group_name": ("character varying", 100),
        "help_text": ("text", None),
        "created_at": ("timestamp with time zone", None),
    },
    "configuration_history": {
        "id": ("bigint", None),
        "config_id": ("bigint", None),
        "old_value": ("text", None),
        "new_value": ("text", None),
        "changed_by": ("uuid", None),
        "change_reason": ("text", None),
        "ip_address": ("inet", None),
        "user_agent": ("text", None),
        "created_at": ("timestamp with time zone", None),
    },
    "configuration_templates": {
        "id": ("bigint", None),
        "provider_name": ("character varying", 50),
        "category": ("character varying", 50),
        "template_data": ("jsonb", None),
        "description": ("text", None),
        "is_active": ("boolean", None),
        "created_at": ("timestamp with time zone", None),
        "updated_at": ("timestamp with time zone", None),
    },
    "users": {"id": ("uuid", None), "email": ("character varying", 254), "username": ("character varying", 150)},
}

SPEC_DEFAULTS = {
    "system_configurations": ["value_type", "is_encrypted", "is_active", "environment", "created_at", "updated_at"],
    "configuration_metadata": ["input_type", "is_required", "sort_order", "created_at"],
    "configuration_history": ["created_at"],
    "configuration_templates": ["is_active", "created_at", "updated_at"],
}


def _columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [col.name for col in connection.introspection.get_table_description(cursor, table)]


@pytest.mark.postgres
@pytest.mark.parametrize("table", sorted(SPEC_COLUMNS))
def test_columns_have_the_spec_types(table):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, character_maximum_length, column_default "
            "FROM information_schema.columns WHERE table_name = %s",
            [table],
        )
        found = {name: (kind, length) for name, kind, length, _ in cursor.fetchall()}
    expected = SPEC_COLUMNS[table]
    assert {name: found.get(name) for name in expected} == expected


@pytest.mark.postgres
@pytest.mark.parametrize("table", sorted(SPEC_DEFAULTS))
def test_spec_defaults_are_database_defaults(table):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_default IS NOT NULL",
            [table],
        )
        with_default = {row[0] for row in cursor.fetchall()}
    assert set(SPEC_DEFAULTS[table]) <= with_default


@pytest.mark.postgres
def test_every_spec_index_exists():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
        indexes = dict(cursor.fetchall())
    expected = {
        "idx_sysconf_category": "(category)",
        "idx_sysconf_env": "(environment)",
        "idx_sysconf_active": "(is_active)",
        "idx_sysconf_category_env": "(category, environment)",
        "idx_sysconf_updated_at": "(updated_at)",
        "idx_config_category_env_active": "(category, environment, is_active)",
        "idx_config_updated_at_desc": "(updated_at DESC)",
        "idx_config_active_only": "(category, config_key) WHERE is_active",
        "idx_confmeta_category": "(category)",
        "idx_confmeta_group": "(group_name)",
        "idx_confmeta_sort": "(category, sort_order)",
        "idx_confhist_key_created": "(environment, category, config_key, created_at DESC)",
        "idx_confhist_changed_by": "(changed_by)",
        "idx_confhist_created_at": "(created_at)",
        "idx_confhist_config_created": "(config_id, created_at DESC)",
        "idx_conftmpl_provider": "(provider_name)",
        "idx_conftmpl_category": "(category)",
        "idx_conftmpl_active": "(is_active)",
        "idx_template_data_gin": "USING gin (template_data)",
    }
    for name, fragment in expected.items():
        assert name in indexes, name
        assert fragment in indexes[name], (name, indexes[name])


@pytest.mark.postgres
def test_history_has_no_foreign_key_to_configurations_but_users_are_referenced():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "configuration_history")
        config_constraints = connection.introspection.get_constraints(cursor, "system_configurations")
    foreign = {tuple(c["columns"]): c["foreign_key"] for c in constraints.values() if c["foreign_key"]}
    assert foreign == {("changed_by",): ("users", "id")}
    assert {tuple(c["columns"]): c["foreign_key"] for c in config_constraints.values() if c["foreign_key"]} == {
        ("updated_by",): ("users", "id")
    }


def test_history_and_archive_have_the_same_columns_in_the_same_order():
    history = _columns("configuration_history")
    assert history == _columns("configuration_history_archive")
    assert history[:9] == list(SPEC_COLUMNS["configuration_history"])


def test_database_defaults_apply_to_raw_inserts():
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO system_configurations (category, config_key) VALUES ('a', 'b')")
        cursor.execute("INSERT INTO configuration_metadata (category, config_key, display_name) VALUES ('a', 'b', 'B')")
        cursor.execute(
            "INSERT INTO configuration_templates (provider_name, category, template_data) VALUES ('p', 'a', '{}')"
        )
    config = SystemConfiguration.objects.get(category="a", config_key="b")
    assert (config.value_type, config.is_encrypted, config.is_active, config.environment) == (
        "string",
        False,
        True,
        "development",
    )
    assert config.created_at is not None and config.updated_at is not None
    meta = ConfigurationMetadata.objects.get(category="a", config_key="b")
    assert (meta.input_type, meta.is_required, meta.sort_order) == ("text", False, 0)


BAD_VALUES = [
    ("system_configurations", "value_type", "float"),
    ("system_configurations", "environment", "qa"),
    ("configuration_metadata", "input_type", "slider"),
]


@pytest.mark.parametrize(("table", "column", "value"), BAD_VALUES)
def test_check_constraints_refuse_raw_sql(table, column, value):
    extra = ", display_name" if table == "configuration_metadata" else ""
    extra_value = ", 'X'" if extra else ""
    sql = f"INSERT INTO {table} (category, config_key, {column}{extra}) VALUES ('c', 'k', %s{extra_value})"
    with (
        pytest.raises(IntegrityError, match=f"{table}_{column}_check"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [value])


@pytest.mark.parametrize(("table", "column", "value"), BAD_VALUES)
def test_check_constraints_refuse_the_orm(table, column, value):
    if table == "system_configurations":
        obj = SystemConfiguration(category="c", config_key="k", **{column: value})
    else:
        obj = ConfigurationMetadata(category="c", config_key="k", display_name="X", **{column: value})
    with pytest.raises(ValidationError) as error:
        obj.full_clean()
    assert column in error.value.message_dict
    with pytest.raises(IntegrityError, match=f"{table}_{column}_check"), transaction.atomic():
        obj.save()


def test_duplicate_key_is_refused_through_orm_and_raw_sql():
    ConfigurationFactory(category="smtp", config_key="host", environment="staging")
    duplicate = SystemConfiguration(category="smtp", config_key="host", environment="staging")
    with pytest.raises(ValidationError, match="category, key and environment already exists"):
        duplicate.full_clean()
    with (
        pytest.raises(IntegrityError, match=r"unique_config_key_per_category_env|UNIQUE constraint failed"),
        transaction.atomic(),
    ):
        duplicate.save()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO system_configurations (category, config_key, environment) VALUES ('smtp', 'host', 'staging')"
        )
    # The same key in another environment is a different configuration.
    ConfigurationFactory(category="smtp", config_key="host", environment="production")
