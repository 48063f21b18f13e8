"""The database refuses a secret in the clear, on every path (raw SQL included), on both engines.

A key is a secret by its name (``CONFIG_SECRET_KEY_PATTERNS``, copied into ``configuration_secret_patterns``
here and by every later ``migrate``: data/secret_patterns.py) or by its metadata (input type password). Until
now only the application encrypted such values; an INSERT by SQL stored ``db_password`` in the clear, and the API
then served it to tokens without ``secrets``. From here on a write is refused when

- a secret's value is stored in the clear (``is_encrypted`` false, a non-empty value that is not an envelope:
  the spec's own sample row leaves ``is_encrypted`` at its default for ``encrypted:AES256:...``), or
- a value marked encrypted is not an envelope (``encrypted:...``), which would show as a secret yet decrypt to
  nothing.

NULL and empty values are not secrets to protect. Rows already stored in the clear are not rewritten (the keys
are not in the database): the system check ``configurations.W005`` names them and ``rotate_encryption_keys``
encrypts them. PostgreSQL checks once per statement over its transition table, set-based, with the search_path
pinned (a temporary table cannot stand in for the patterns); SQLite with BEFORE triggers.
"""

import django.db.models.functions.text
from django.db import migrations, models

from configurations import conf

_SECRET_BY_NAME_OR_METADATA = (
    "(EXISTS (SELECT 1 FROM configuration_secret_patterns p WHERE {contains}) "
    "OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = {row}.category "
    "AND m.config_key = {row}.config_key AND m.input_type = 'password'))"
)
# The spec's sample row stores an envelope with is_encrypted left at its default: an envelope's shape is accepted.
_PLAINTEXT = "NOT {row}.is_encrypted AND {row}.config_value <> '' AND substr({row}.config_value, 1, 10) <> 'encrypted:'"
_NOT_AN_ENVELOPE = "{row}.is_encrypted AND substr({row}.config_value, 1, 10) <> 'encrypted:'"
PLAINTEXT_MESSAGE = (
    "is a secret (its name matches CONFIG_SECRET_KEY_PATTERNS or its metadata is a password), so its value "
    "must be stored encrypted: write it through the application, which encrypts it"
)
ENVELOPE_MESSAGE = "is marked encrypted, but its value is not an encrypted envelope"


def _plaintext_secret(row: str, contains: str) -> str:
    return f"{_PLAINTEXT} AND {_SECRET_BY_NAME_OR_METADATA}".format(row=row, contains=contains)


# An UPDATE that leaves a legacy row's value, flag and name as they were (a deactivation) is not refused.
_UNCHANGED = (
    "EXISTS (SELECT 1 FROM old_rows o WHERE o.id = n.id AND o.config_value = n.config_value "
    "AND o.is_encrypted = n.is_encrypted AND o.category = n.category AND o.config_key = n.config_key)"
)
_OFFENDING = (
    f"SELECT n.category, n.config_key, n.environment, n.is_encrypted INTO r FROM new_rows n "
    f"WHERE n.config_value IS NOT NULL AND (({_NOT_AN_ENVELOPE.format(row='n')}) "
    f"OR ({_plaintext_secret('n', 'strpos(lower(n.config_key), p.pattern) > 0')}))"
)
PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION config_refuse_plaintext_secrets() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE r record;
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_OFFENDING} LIMIT 1;
  ELSE
    {_OFFENDING} AND NOT {_UNCHANGED} LIMIT 1;
  END IF;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'check_violation',
      MESSAGE = format('%s.%s [%s] %s', r.category, r.config_key, r.environment,
                       CASE WHEN r.is_encrypted THEN '{ENVELOPE_MESSAGE}' ELSE '{PLAINTEXT_MESSAGE}' END);
  END IF;
  RETURN NULL;
END
$$;
"""
PG_INSTALL = [PG_FUNCTION]
PG_UNINSTALL = []
for _event, _tables in (("INSERT", "NEW TABLE AS new_rows"), ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows")):
    _name = f"system_configurations_secrets_{_event.lower()}"
    PG_INSTALL += [
        f"DROP TRIGGER IF EXISTS {_name} ON system_configurations",
        f"CREATE TRIGGER {_name} AFTER {_event} ON system_configurations REFERENCING {_tables} "
        "FOR EACH STATEMENT EXECUTE FUNCTION config_refuse_plaintext_secrets()",
    ]
    PG_UNINSTALL.append(f"DROP TRIGGER IF EXISTS {_name} ON system_configurations")
PG_UNINSTALL.append("DROP FUNCTION IF EXISTS config_refuse_plaintext_secrets()")
_SQLITE_CHANGED = (
    " AND (NEW.config_value IS NOT OLD.config_value OR NEW.is_encrypted IS NOT OLD.is_encrypted "
    "OR NEW.category IS NOT OLD.category OR NEW.config_key IS NOT OLD.config_key)"
)

_SQLITE_CHECKS = {
    "plaintext": (_plaintext_secret("NEW", "instr(lower(NEW.config_key), p.pattern) > 0"), PLAINTEXT_MESSAGE),
    "envelope": (_NOT_AN_ENVELOPE.format(row="NEW"), ENVELOPE_MESSAGE),
}
SQLITE_INSTALL, SQLITE_UNINSTALL = [], []
for _event in ("INSERT", "UPDATE"):
    for _check, (_condition, _message) in _SQLITE_CHECKS.items():
        _name = f"system_configurations_secrets_{_check}_{_event.lower()}"
        _literal = ("a configuration " + _message).replace("'", "''")
        SQLITE_INSTALL += [
            f"DROP TRIGGER IF EXISTS {_name}",
            f"CREATE TRIGGER {_name} BEFORE {_event} ON system_configurations "
            f"WHEN NEW.config_value IS NOT NULL AND {_condition}{_SQLITE_CHANGED if _event == 'UPDATE' else ''} "
            f"BEGIN SELECT RAISE(ABORT, '{_literal}'); END",
        ]
        SQLITE_UNINSTALL.append(f"DROP TRIGGER IF EXISTS {_name}")


def fill_patterns(apps, schema_editor) -> None:
    pattern_model = apps.get_model("configurations", "SecretKeyPattern")
    patterns = sorted(set(conf.secret_key_patterns()))
    pattern_model.objects.using(schema_editor.connection.alias).bulk_create([pattern_model(p) for p in patterns])


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in PG_INSTALL if vendor == "postgresql" else SQLITE_INSTALL if vendor == "sqlite" else []:
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in PG_UNINSTALL if vendor == "postgresql" else SQLITE_UNINSTALL if vendor == "sqlite" else []:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("configurations", "0016_definer_search_path")]

    operations = [
        migrations.CreateModel(
            name="SecretKeyPattern",
            fields=[("pattern", models.CharField(max_length=100, primary_key=True, serialize=False))],
            options={
                "db_table": "configuration_secret_patterns",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("pattern", ""), _negated=True),
                            ("pattern", django.db.models.functions.text.Lower("pattern")),
                        ),
                        name="secret_pattern_lower",
                    )
                ],
            },
        ),
        migrations.RunPython(fill_patterns, migrations.RunPython.noop),
        migrations.RunPython(install, uninstall),
    ]
