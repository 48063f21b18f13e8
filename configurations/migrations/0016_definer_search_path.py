"""Every SECURITY DEFINER function searches ``pg_catalog, public, pg_temp``: the session's temporary schema last.

0009 created ``log_configuration_change()`` and ``config_archive_history()`` with ``SET search_path FROM
CURRENT``, which leaves ``pg_temp`` implicitly searched *first*: a role that may create temporary tables could
shadow ``configuration_history`` (or its archive) with a temporary table and so change configurations with no
history row, or archive the whole trail into a table that vanishes with its session (docs/threat-model.md,
"Shadowing the history"). PostgreSQL's documented remedy ("Writing SECURITY DEFINER Functions Safely") is an
explicit search_path with ``pg_temp`` last; this migration sets it on every SECURITY DEFINER function of the
schema, today's and any an earlier migration left, and a test fails on any that lacks it.

PostgreSQL only; SQLite has no roles and no definer rights. The reverse keeps the safe setting: going back to
``FROM CURRENT`` would reopen the hole.
"""

from django.db import migrations

SAFE_SEARCH_PATH = "pg_catalog, public, pg_temp"

PG_INSTALL = [
    f"""
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
           WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = {SAFE_SEARCH_PATH}', r.signature);
  END LOOP;
END $$
""",
]


def install(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in PG_INSTALL:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("configurations", "0015_token_change_signals")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
