"""Category and key names follow one rule (core.validation.NAME_RULE), also as CHECK constraints.

Existing rows are not rewritten. On PostgreSQL the constraints are added NOT VALID: they hold for every new and
changed row, and rows that already break the rule are reported by the system check configurations.W003. SQLite
cannot add a constraint without copying the table, which would fail on such a row: there the migration stops
first with a list of the rows to rename.
"""

import re

import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*", re.ASCII)  # core.validation.NAME_RULE, as of this migration


class AddNameConstraint(migrations.AddConstraint):
    """AddConstraint that never rewrites or loses rows that already break the rule."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor == "postgresql":
            statement = str(self.constraint.create_sql(model, schema_editor))
            schema_editor.execute(statement + " NOT VALID", params=None)
            return
        _refuse_bad_names(model, self.constraint, schema_editor.connection.alias)
        _drop_sqlite_triggers(schema_editor)
        super().database_forwards(app_label, schema_editor, from_state, to_state)


def _drop_sqlite_triggers(schema_editor) -> None:
    """SQLite copies the table to add a constraint and refuses while a trigger refers to it. The triggers are
    put back after migrate by configurations' post_migrate handler (data/installation.py)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        names = [row[0] for row in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{name}"', params=None)


def _refuse_bad_names(model, constraint, alias: str) -> None:
    field = constraint.condition.children[0][0].removesuffix("__regex")
    limit = model._meta.get_field(field).max_length
    names = model.objects.using(alias).values_list(field, flat=True).distinct()
    bad = sorted(name for name in names if not (name and len(name) <= limit and NAME.fullmatch(name)))
    if bad:
        raise RuntimeError(
            f"{model._meta.db_table}.{field}: rename these first (letters, digits, '_', '-' and '.', starting with a "
            f"letter or a digit, at most {limit} characters): {bad[:20]}"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("configurations", "0009_history_chain_and_roles"),
    ]

    operations = [
        AddNameConstraint(
            model_name="configurationmetadata",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("category__regex", "^[A-Za-z0-9][A-Za-z0-9_.-]*\\Z"),
                    django.db.models.lookups.LessThanOrEqual(django.db.models.functions.text.Length("category"), 50),
                ),
                name="configuration_metadata_category_name",
                violation_error_message="The category name breaks the naming rule.",
            ),
        ),
        AddNameConstraint(
            model_name="configurationmetadata",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("config_key__regex", "^[A-Za-z0-9][A-Za-z0-9_.-]*\\Z"),
                    django.db.models.lookups.LessThanOrEqual(django.db.models.functions.text.Length("config_key"), 100),
                ),
                name="configuration_metadata_key_name",
                violation_error_message="The config_key name breaks the naming rule.",
            ),
        ),
        AddNameConstraint(
            model_name="configurationtemplate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("category__regex", "^[A-Za-z0-9][A-Za-z0-9_.-]*\\Z"),
                    django.db.models.lookups.LessThanOrEqual(django.db.models.functions.text.Length("category"), 50),
                ),
                name="configuration_templates_category_name",
                violation_error_message="The category name breaks the naming rule.",
            ),
        ),
        AddNameConstraint(
            model_name="systemconfiguration",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("category__regex", "^[A-Za-z0-9][A-Za-z0-9_.-]*\\Z"),
                    django.db.models.lookups.LessThanOrEqual(django.db.models.functions.text.Length("category"), 50),
                ),
                name="system_configurations_category_name",
                violation_error_message="The category name breaks the naming rule.",
            ),
        ),
        AddNameConstraint(
            model_name="systemconfiguration",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("config_key__regex", "^[A-Za-z0-9][A-Za-z0-9_.-]*\\Z"),
                    django.db.models.lookups.LessThanOrEqual(django.db.models.functions.text.Length("config_key"), 100),
                ),
                name="system_configurations_key_name",
                violation_error_message="The config_key name breaks the naming rule.",
            ),
        ),
    ]
