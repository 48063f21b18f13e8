"""Least-privilege PostgreSQL roles and the spec's row-level security (setup_database_roles).

Three roles (docs/schema.md, Roles):

- the **owner** runs migrations and owns every table, view, sequence and function of the schema, so the
  history trigger and the archive function (SECURITY DEFINER) run with its rights;
- the **application** role (the one ``DATABASE_URL`` names when serving) reads and writes configurations,
  metadata, templates, users and sessions; it may only read the history, and the metadata and template history
  (the triggers write them as the owner)
  and archive it through ``config_archive_history``; never UPDATE, DELETE or TRUNCATE it. On
  ``system_configurations`` it is subject to the spec's policy: a row may be inserted, updated or deleted only
  in an environment the transaction's actor may edit (``current_user_id()``, ``user_permissions``);
- a **reader** role for other services: SELECT on the active configurations of its environments, nothing else.

Every statement is idempotent, so this is safe to run after every migrate; run twice, it changes nothing.
"""

from __future__ import annotations

import dataclasses
import re

from django.db import connection, transaction

from ..core.vocabulary import ENVIRONMENTS

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# What the application role may only read; every other table and view of the schema it may read and write.
APP_READ_ONLY = (
    "configuration_history",
    "configuration_history_archive",
    "configuration_history_archives",
    "configuration_history_head",
    "configuration_metadata_changes",
    "configuration_templates_changes",
    "configuration_review_policies_changes",
    "configuration_webhook_endpoints_changes",
    "audit_chain_heads",
    "configuration_secret_patterns",
    "django_migrations",
    "auth_permission",
    "django_content_type",
    "user_permissions",
)
READER_POLICY = "config_reader_access"
USER_POLICY = "config_user_access"


@dataclasses.dataclass(frozen=True)
class Roles:
    """The names of the owner, application and reader roles."""

    owner: str = "configurations_owner"
    app: str = "configurations_app"
    reader: str = "configurations_reader"

    def __post_init__(self) -> None:
        for name in (self.owner, self.app, self.reader):
            if not ROLE_NAME.fullmatch(name):
                raise ValueError(f"role name {name!r}: use lower-case letters, digits and _ (start with a letter or _)")
        if len({self.owner, self.app, self.reader}) != 3:
            raise ValueError("the owner, application and reader roles must be three different roles")


def statements(
    roles: Roles, *, passwords: dict[str, str] | None = None, reader_environments: list[str] | None = None
) -> list[str]:
    """Every statement, in order; passwords appear as the literal given (the caller masks them for display)."""
    unknown = sorted(set(reader_environments or []) - set(ENVIRONMENTS))
    if unknown:
        raise ValueError(f"unknown reader environment(s) {', '.join(unknown)}; use {', '.join(ENVIRONMENTS)}")
    passwords = passwords or {}
    found = [*_create_roles(roles, passwords), *_database_grants(roles)]
    if not is_migrated():
        # A fresh database (the README's order: roles first, then migrate as the owner): only what needs no table.
        return [*found, *_ownership(roles)[:1]]
    found += [*_ownership(roles), *_grants(roles), *_policies(roles)]
    return found + _reader_policy(roles, reader_environments)


def apply(statements_to_run: list[str]) -> None:
    """Run the statements in one transaction (all or nothing)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements_to_run:
            cursor.execute(statement)


def is_superuser() -> bool:
    """Whether the connected role is a PostgreSQL superuser."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])


def is_migrated() -> bool:
    """Whether the schema's tables exist yet (setup before the first migrate creates only the roles)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.system_configurations') IS NOT NULL")
        return bool(cursor.fetchone()[0])


def reader_policy_exists() -> bool:
    """Whether the reader role's row-level policy is installed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_policies WHERE tablename = 'system_configurations' AND policyname = %s", [READER_POLICY]
        )
        return cursor.fetchone() is not None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _create_roles(roles: Roles, passwords: dict[str, str]) -> list[str]:
    found = []
    for kind, name in (("owner", roles.owner), ("app", roles.app), ("reader", roles.reader)):
        found.append(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(name)}) THEN "
            f'CREATE ROLE "{name}" LOGIN; END IF; END $$'
        )
        if passwords.get(kind):
            found.append(f'ALTER ROLE "{name}" LOGIN PASSWORD {_literal(passwords[kind])}')
    return found


def _database_grants(roles: Roles) -> list[str]:
    """Only the three roles may connect; nobody may create temporary objects or objects in ``public`` but the owner.

    PostgreSQL grants CONNECT and TEMPORARY on every database to PUBLIC by default. A temporary table is how a
    role could shadow a table inside a function that searches ``pg_temp`` (migration 0016 closes that root;
    this removes the tool), and CREATE on ``public`` how it could shadow a function or an operator.
    """
    on_database = [
        "REVOKE TEMPORARY, CONNECT ON DATABASE %I FROM PUBLIC",
        f"REVOKE TEMPORARY ON DATABASE %I FROM {_identifier(roles.app)}, {_identifier(roles.reader)}",
        f"GRANT CONNECT ON DATABASE %I TO {', '.join(_identifier(r) for r in (roles.owner, roles.app, roles.reader))}",
    ]
    return [
        *(f"DO $$ BEGIN EXECUTE format({_literal(sql)}, current_database()); END $$" for sql in on_database),
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    ]


def _identifier(name: str) -> str:
    return f'"{name}"'


def _ownership(roles: Roles) -> list[str]:
    owner = roles.owner
    return [
        f'GRANT USAGE, CREATE ON SCHEMA public TO "{owner}"',
        f"""DO $$
DECLARE r record;
BEGIN
  -- Tables first (partitions too, one by one): their identity and owned sequences follow them.
  FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
             AND pg_get_userbyid(c.relowner) <> {_literal(owner)}
             AND (c.relkind <> 'S'
                  OR NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
           ORDER BY c.relkind <> 'r' LOOP
    EXECUTE format('ALTER %s %I OWNER TO %I',
                   CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                  WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                   r.relname, {_literal(owner)});
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS signature FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> {_literal(owner)} LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO %I', r.signature, {_literal(owner)});
  END LOOP;
END $$""",
    ]


def _grants(roles: Roles) -> list[str]:
    app, reader = roles.app, roles.reader
    read_only = ", ".join(APP_READ_ONLY)
    return [
        f'GRANT USAGE ON SCHEMA public TO "{app}", "{reader}"',
        f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{app}", "{reader}"',
        f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{app}"',
        f"""DO $$
DECLARE r record;
BEGIN
  -- A partition has the rights its parent gives (config_history_partition copies them), an archived partition
  -- those it had: never writes of their own.
  FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             AND NOT starts_with(c.relname, 'configuration_history_archived_')
             AND c.relname NOT IN ({", ".join(_literal(t) for t in APP_READ_ONLY)}) LOOP
    EXECUTE format('GRANT INSERT, UPDATE, DELETE ON %I TO %I', r.relname, {_literal(app)});
  END LOOP;
END $$""",
        f'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {read_only} FROM "{app}"',
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{app}"',
        "REVOKE ALL ON FUNCTION config_archive_history(timestamptz, bigint) FROM PUBLIC",
        f'GRANT EXECUTE ON FUNCTION config_archive_history(timestamptz, bigint) TO "{app}"',
        *_partition_grants(app),
        f'GRANT SELECT ON system_configurations TO "{reader}"',
    ]


def _partition_grants(app: str) -> list[str]:
    """The history's partition functions (PostgreSQL, migration 0025): the application may create partitions and
    archive them (both move rows, never edit them); only the owner may drop an exported archive."""
    if not _has_partitions():
        return []
    functions = ("config_history_partition(date)", "config_history_archive_partition(text, timestamptz)")
    return [
        *(f'GRANT EXECUTE ON FUNCTION {function} TO "{app}"' for function in functions),
        "REVOKE ALL ON FUNCTION config_history_drop_archive(bigint, text) FROM PUBLIC",
        f'REVOKE ALL ON FUNCTION config_history_drop_archive(bigint, text) FROM "{app}"',
    ]


def _has_partitions() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure('config_history_partition(date)') IS NOT NULL")
        return bool(cursor.fetchone()[0])


def _policies(roles: Roles) -> list[str]:
    app = roles.app
    return [
        "ALTER TABLE system_configurations ENABLE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS config_app_read ON system_configurations",
        # Reads stay open to the application: runtime snapshots and view-only pages need every environment.
        f'CREATE POLICY config_app_read ON system_configurations FOR SELECT TO "{app}" USING (true)',
        f"DROP POLICY IF EXISTS {USER_POLICY} ON system_configurations",
        # The spec's policy, made real: writes only in the environments the transaction's actor may edit.
        f"""CREATE POLICY {USER_POLICY} ON system_configurations
  FOR ALL
  TO "{app}"
  USING (
    environment IN (
      SELECT unnest(allowed_environments)
      FROM user_permissions
      WHERE user_id = current_user_id()
    )
  )""",
    ]


def _reader_policy(roles: Roles, environments: list[str] | None) -> list[str]:
    """Given environments replace the reader's; none given keeps an existing policy (or creates an empty one)."""
    if environments is None and reader_policy_exists():
        return []
    allowed = ", ".join(_literal(env) for env in sorted(set(environments or [])))
    condition = f"is_active AND environment IN ({allowed})" if allowed else "false"
    return [
        f"DROP POLICY IF EXISTS {READER_POLICY} ON system_configurations",
        f'CREATE POLICY {READER_POLICY} ON system_configurations FOR SELECT TO "{roles.reader}" USING ({condition})',
    ]
