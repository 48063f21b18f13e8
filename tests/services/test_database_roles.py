"""Least-privilege roles and the spec's row-level security, tried with real connections as each role (PostgreSQL).

``setup_database_roles`` runs in the test database with role names unique to this run (roles are
cluster-wide); the tests then connect as the application and reader roles, with psycopg for raw SQL and with
Django's own connection for the services.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
from io import StringIO

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection

from configurations import services
from configurations.audit import audit_context
from configurations.core.vocabulary import EnvironmentPermissionDenied
from configurations.data import bulk
from configurations.models import ConfigurationHistory, ConfigurationHistoryArchive, SystemConfiguration
from configurations.services import partitions
from tests.factories import age_history, editor_of
from tests.servers import ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def data(db):
    for environment in ("development", "production"):
        services.set_value(category="smtp", key="host", environment=environment, value=f"{environment}.example.com")
        services.set_value(category="smtp", key="auth_pass", environment=environment, value=f"{environment}-pass-1")
    return editor_of("development", username="dev-only")


def connect(role: str) -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"], user=role, host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432
    )


@contextlib.contextmanager
def django_connected_as(role: str):
    """Django's own connection, reconnected as ``role`` for the block."""
    connection.close()
    saved = connection.settings_dict["USER"]
    connection.settings_dict["USER"] = role
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["USER"] = saved


def refused(conn: psycopg.Connection, sql: str, params=()) -> bool:
    try:
        with conn.transaction():
            conn.execute(sql, params)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_the_application_role_cannot_rewrite_history(roles, data):
    entry = ConfigurationHistory.objects.first()
    with connect(roles["app"]) as app:
        assert refused(app, "UPDATE configuration_history SET change_reason = 'tampered'")
        assert refused(app, "DELETE FROM configuration_history WHERE id = %s", [entry.pk])
        assert refused(app, "TRUNCATE configuration_history")
        assert refused(app, "INSERT INTO configuration_history (config_id, action) VALUES (1, 'update')")
        assert refused(app, "DELETE FROM configuration_history_archive")
        assert refused(app, "UPDATE configuration_history_head SET last_hash = 'x'")
        assert app.execute("SELECT count(*) FROM configuration_history").fetchone()[0] > 0  # reading is fine
    assert ConfigurationHistory.objects.get(pk=entry.pk).change_reason == entry.change_reason


def test_archiving_still_works_as_the_application_role(roles, data):
    total = ConfigurationHistory.objects.count()
    age_history(ConfigurationHistory.objects.values_list("id", flat=True), days=800)
    with django_connected_as(roles["app"]):
        report = services.archive_history(older_than_days=730, batch_size=3)
        assert report.partitions and services.verify_history().ok and services.verify_history(archive=True).ok
    assert report.moved == total and not ConfigurationHistory.objects.exclude(action="checkpoint").exists()


def _history_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND (relname LIKE 'configuration_history_2%%' "
            "OR relname LIKE 'configuration_history_archived_%%' OR relname = 'configuration_history_default')"
        )
        return sorted(row[0] for row in cursor.fetchall())


def test_no_partition_of_the_history_is_writable_by_the_application_role(roles, data):
    age_history(ConfigurationHistory.objects.values_list("id", flat=True)[:2], days=800)
    with django_connected_as(roles["app"]):  # the application creates a partition and archives one
        created = partitions.ensure_partitions(ahead=8)
        report = services.archive_history(older_than_days=730)
    assert created and report.partitions
    call_command("setup_database_roles", *roles["setup"], stdout=StringIO())  # run again: still nothing granted
    tables = _history_tables()
    assert created[-1] in tables and any(t.startswith("configuration_history_archived_") for t in tables)
    with connect(roles["app"]) as app:
        for table in tables:
            assert refused(app, f"UPDATE {table} SET change_reason = 'tampered'"), table
            assert refused(app, f"DELETE FROM {table}"), table
            assert refused(app, f"TRUNCATE {table}"), table
            assert refused(app, f"INSERT INTO {table} (id, config_id, created_at) VALUES (1, 1, now())"), table
            app.execute(f"SELECT count(*) FROM {table}")  # reading is fine
        assert refused(app, "SELECT config_history_drop_archive(%s, 'gone')", [report.checkpoints[0]])
        assert refused(app, f"ALTER TABLE configuration_history DETACH PARTITION {created[-1]}")
    with django_connected_as(roles["app"]), pytest.raises(ValidationError, match="run it as the owner role"):
        services.archive_history(older_than_days=1, export_to=str(ROOT / "never-written.jsonl"))
    assert not (ROOT / "never-written.jsonl").exists()


def test_row_level_security_refuses_another_environment_even_by_raw_sql(roles, data):
    developer = data
    with connect(roles["app"]) as app:
        with app.transaction():
            app.execute("SELECT set_config('app.actor', %s, true)", [str(developer.pk)])
            assert app.execute("SELECT current_user_id()").fetchone()[0] == developer.pk
            updated = app.execute(
                "UPDATE system_configurations SET config_value = 'x' WHERE environment = 'production'"
            )
            assert updated.rowcount == 0  # filtered by the policy
            deleted = app.execute("DELETE FROM system_configurations WHERE environment = 'production'")
            assert deleted.rowcount == 0
            own = app.execute("UPDATE system_configurations SET config_value = 'mine.example.com' "
                              "WHERE environment = 'development' AND config_key = 'host'")  # fmt: skip
            assert own.rowcount == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"), app.transaction():
            app.execute("SELECT set_config('app.actor', %s, true)", [str(developer.pk)])
            app.execute("INSERT INTO system_configurations (category, config_key, config_value, environment) "
                        "VALUES ('smtp', 'port', '1', 'production')")  # fmt: skip
        # No actor at all: the application role may write nowhere.
        assert app.execute("UPDATE system_configurations SET config_value = 'y'").rowcount == 0
    assert services.get_value(category="smtp", key="host", environment="production") == "production.example.com"


def test_through_the_application_the_database_refusal_is_the_permission_error(roles, data):
    developer = data
    row = SystemConfiguration.objects.get(environment="production", config_key="host")
    with django_connected_as(roles["app"]):
        with pytest.raises(EnvironmentPermissionDenied, match="You may not write to the production environment"):
            services.set_value(category="smtp", key="host", environment="production", value="x", actor=developer)
        # A path that forgets the check: the database holds the line with the same error.
        with pytest.raises(EnvironmentPermissionDenied, match="row-level security"), audit_context(actor=developer):
            row.config_value = "forgotten.example.com"
            bulk.update([row])
        with pytest.raises(EnvironmentPermissionDenied, match="row-level security"), audit_context(actor=developer):
            bulk.insert([SystemConfiguration(category="smtp", config_key="port", environment="production")])
        with audit_context(actor=developer):
            assert SystemConfiguration.objects.filter(environment="production").update(config_value="z") == 0
        services.set_value(category="smtp", key="host", environment="development", value="d.example", actor=developer)
    assert services.get_value(category="smtp", key="host", environment="production") == "production.example.com"


def test_the_two_round_trip_write_runs_as_the_application_role_and_row_level_security_holds_it(roles, data):
    """As the application role: a write of its own takes the two round trips (its functions are the role's to call),
    and a write of another environment's row sent straight to the data layer is hidden by row-level security, so it
    refuses itself whole (data/optimistic.py) instead of writing."""
    from django.test.utils import CaptureQueriesContext

    from configurations.data import audit, optimistic

    developer = data
    developer.get_all_permissions()
    with django_connected_as(roles["app"]):
        with CaptureQueriesContext(connection) as captured:
            services.set_value(category="smtp", key="host", environment="development", value="two", actor=developer)
        assert ["config_write_or_read" in q["sql"] for q in captured.captured_queries] == [False, True]
        seen = optimistic.read({("smtp", "host", "production")})
        row = seen.rows[("smtp", "host", "production")]  # reads stay open to the application
        row.config_value = "not yours"
        context = audit.context_for(actor=developer, reason="straight to the data layer")
        assert optimistic.write([row], seen, context=context, pairs={("smtp", "production")}) is None
    assert services.get_value(category="smtp", key="host", environment="development") == "two"
    assert services.get_value(category="smtp", key="host", environment="production") == "production.example.com"


def test_commands_as_the_application_role_need_an_actor(roles, data, tmp_path):
    source = tmp_path / "prod.json"
    source.write_text(json.dumps({"production": {"smtp": {"port": 2525}}}))
    admin = editor_of(username="root-user", is_superuser=True)
    with django_connected_as(roles["app"]):
        with pytest.raises(CommandError, match="a command needs --actor USERNAME"):
            call_command("import_configs", str(source), stdout=StringIO())
        with pytest.raises(CommandError, match="production"):
            call_command("import_configs", str(source), "--actor", "dev-only", stdout=StringIO())
        call_command("import_configs", str(source), "--actor", admin.username, stdout=StringIO())
    # (a transactional test has no shipped metadata, so the port is stored as given)
    assert str(services.get_value(category="smtp", key="port", environment="production")) == "2525"


def test_the_reader_sees_only_its_active_environment_and_nothing_else(roles, data):
    services.deactivate(category="smtp", key="auth_pass", environment="development")
    with connect(roles["reader"]) as reader:
        rows = reader.execute("SELECT category, config_key, environment FROM system_configurations").fetchall()
        assert rows == [("smtp", "host", "development")]
        for table in ("configuration_history", "configuration_history_archive", "users", "django_session",
                      "configuration_metadata"):  # fmt: skip
            assert refused(reader, f"SELECT count(*) FROM {table}"), table
        assert refused(reader, "UPDATE system_configurations SET config_value = 'x'")


def test_user_permissions_view_follows_the_django_permissions(roles, data):
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.create(name="stagers")
    group.permissions.add(Permission.objects.get(codename="edit_staging"))
    member = editor_of("test", username="member")
    member.groups.add(group)
    superuser = editor_of(username="boss", is_superuser=True)
    retired = editor_of("production", username="retired", is_active=False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT user_id, allowed_environments FROM user_permissions")
        allowed = dict(cursor.fetchall())
    assert allowed[data.pk] == ["development"]
    assert allowed[member.pk] == ["staging", "test"]
    assert allowed[superuser.pk] == ["development", "production", "staging", "test"]
    assert retired.pk not in allowed


def _catalog() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, pg_get_userbyid(relowner), relrowsecurity, "
                       "ARRAY(SELECT a::text FROM unnest(coalesce(relacl, '{}')) a ORDER BY 1) "
                       "FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY relname")  # fmt: skip
        tables = cursor.fetchall()
        cursor.execute("SELECT policyname, roles::text, cmd, qual, with_check FROM pg_policies ORDER BY policyname")
        policies = cursor.fetchall()
        cursor.execute("SELECT p.oid::regprocedure::text, pg_get_userbyid(proowner), proacl::text FROM pg_proc p "
                       "WHERE pronamespace = 'public'::regnamespace ORDER BY 1")  # fmt: skip
        functions = cursor.fetchall()
    return {"tables": tables, "policies": policies, "functions": functions}


def test_setup_run_twice_changes_nothing_the_second_time(roles):
    before = _catalog()
    owners = {owner for _, owner, _, _ in before["tables"]}
    assert owners == {roles["owner"]} and before["policies"]
    call_command("setup_database_roles", *roles["setup"], stdout=StringIO())
    assert _catalog() == before


def test_dry_run_prints_the_sql_with_passwords_masked(roles):
    out = StringIO()
    call_command("setup_database_roles", *roles["setup"], "--app-password", "app-pass-123", "--dry-run", stdout=out)
    assert "CREATE POLICY config_user_access" in out.getvalue() and "'********'" in out.getvalue()
    assert "app-pass-123" not in out.getvalue()


def test_bad_role_names_and_environments_are_refused():
    with pytest.raises(CommandError, match="role name"):
        call_command("setup_database_roles", "--app-role", "app; DROP TABLE users", stdout=StringIO())
    with pytest.raises(CommandError, match="unknown reader environment"):
        call_command("setup_database_roles", "--reader-environment", "qa", "--dry-run", stdout=StringIO())


# --- Shadowing the history with temporary tables (migration 0016, docs/threat-model.md) ---------------------


def _definer_functions() -> list[tuple[str, list[str] | None]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT p.oid::regprocedure::text, p.proconfig FROM pg_proc p "
                       "WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef ORDER BY 1")  # fmt: skip
        return cursor.fetchall()


def test_every_security_definer_function_searches_pg_temp_last(db):
    functions = _definer_functions()
    assert {name for name, _ in functions} >= {"log_configuration_change()",
                                              "config_archive_history(timestamp with time zone,bigint)"}  # fmt: skip
    for name, config in functions:
        paths = [entry.split("=", 1)[1] for entry in config or [] if entry.startswith("search_path=")]
        assert paths, f"{name} is SECURITY DEFINER without a pinned search_path"
        schemas = [schema.strip().strip('"') for schema in paths[0].split(",")]
        assert schemas[-1] == "pg_temp" and schemas[0] == "pg_catalog", f"{name}: search_path={paths[0]}"


def test_the_pin_test_fails_on_an_unpinned_definer_function(db):
    """The check above can fail: a definer function without the pin is what it reports."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE FUNCTION cfgt_unpinned() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'")
    with pytest.raises(AssertionError, match=r"cfgt_unpinned.*without a pinned search_path"):
        test_every_security_definer_function_searches_pg_temp_last(db)


def _grant_temporary(role: str) -> None:
    """A deployment that (wrongly) lets the application create temporary tables: the root fix must still hold."""
    with connection.cursor() as cursor:
        cursor.execute(f'GRANT TEMPORARY ON DATABASE "{connection.settings_dict["NAME"]}" TO "{role}"')


def test_the_application_role_may_not_create_temporary_tables(roles, data):
    with connect(roles["app"]) as app:
        assert refused(app, "CREATE TEMP TABLE configuration_history (LIKE public.configuration_history)")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE system_configurations SET config_value = 'unaudited' "
        "WHERE environment = 'production' AND config_key = 'host'",
        "INSERT INTO system_configurations (category, config_key, config_value, environment) "
        "VALUES ('smtp', 'unaudited', 'x', 'production')",
        "DELETE FROM system_configurations WHERE environment = 'production' AND config_key = 'host'",
    ],
    ids=["update", "insert", "delete"],
)
def test_a_temporary_history_table_does_not_capture_a_production_write(roles, data, statement):
    _grant_temporary(roles["app"])
    boss = editor_of(username="boss", is_superuser=True)
    before = ConfigurationHistory.objects.count()
    with connect(roles["app"]) as app, app.transaction():
        app.execute("CREATE TEMP TABLE configuration_history (LIKE public.configuration_history)")
        app.execute("SELECT set_config('app.actor', %s, true)", [str(boss.pk)])
        assert app.execute(statement).rowcount == 1
        assert app.execute("SELECT count(*) FROM pg_temp.configuration_history").fetchone()[0] == 0
    latest = ConfigurationHistory.objects.order_by("-id").first()
    assert ConfigurationHistory.objects.count() == before + 1
    assert latest.environment == "production" and latest.changed_by_id == boss.pk
    assert latest.action == {"UPDATE": "update", "INSERT": "create", "DELETE": "delete"}[statement.split()[0]]
    report = services.verify_history()
    assert report.ok and report.head[0] == latest.pk, [str(finding) for finding in report.findings]


def test_a_temporary_archive_table_does_not_swallow_the_trail(roles, data):
    _grant_temporary(roles["app"])
    total = ConfigurationHistory.objects.count()
    last = ConfigurationHistory.objects.order_by("-id").values_list("id", flat=True).first()
    with connect(roles["app"]) as app, app.transaction():
        app.execute("CREATE TEMP TABLE configuration_history_archive "
                    "(LIKE public.configuration_history_archive)")  # fmt: skip
        moved = app.execute("SELECT config_archive_history(now(), %s)", [last]).fetchone()[0]
        assert app.execute("SELECT count(*) FROM pg_temp.configuration_history_archive").fetchone()[0] == 0
    assert moved == total
    assert ConfigurationHistoryArchive.objects.count() == total
    assert services.verify_history().ok


def test_only_the_three_roles_may_connect_and_nobody_else_may_create_in_public(roles):
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_database_privilege('public', current_database(), 'CONNECT'), "
                       "has_database_privilege('public', current_database(), 'TEMPORARY'), "
                       "has_schema_privilege('public', 'public', 'CREATE'), "
                       "has_database_privilege(%s, current_database(), 'CONNECT'), "
                       "has_database_privilege(%s, current_database(), 'TEMPORARY')",
                       [roles["reader"], roles["app"]])  # fmt: skip
        assert cursor.fetchone() == (False, False, False, True, False)


# --- The README's order on a fresh database: roles first, then migrate as the owner, then roles again ----------


@pytest.fixture
def fresh_database(db):
    suffix = secrets.token_hex(4)
    name, roles = f"cfgt_{suffix}_fresh", {kind: f"cfgt_{suffix}_{kind}" for kind in ("owner", "app", "reader")}
    settings = connection.settings_dict
    server = {"host": settings["HOST"] or "127.0.0.1", "port": settings["PORT"] or 5432, "user": settings["USER"]}
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name, roles, server
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for role in roles.values():
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def _manage(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False, timeout=300)  # fmt: skip


def test_roles_first_on_a_fresh_database_then_migrate_as_the_owner(fresh_database):
    name, roles, server = fresh_database

    def url(user: str) -> str:
        return f"postgres://{user}@{server['host']}:{server['port']}/{name}"

    as_superuser = url(server["user"])
    setup = ["setup_database_roles", "--owner-role", roles["owner"], "--app-role", roles["app"],
             "--reader-role", roles["reader"]]  # fmt: skip
    first = _manage(*setup, url=as_superuser)
    assert first.returncode == 0, first.stderr
    assert "not migrated yet: run `migrate` connected as " + roles["owner"] in first.stdout
    migrated = _manage("migrate", "--noinput", url=url(roles["owner"]))
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    second = _manage(*setup, "--reader-environment", "development", url=as_superuser)
    assert second.returncode == 0 and "not migrated" not in second.stdout, second.stderr
    checked = _manage("verify_history", url=url(roles["app"]))
    assert checked.returncode == 0 and "Checked" in checked.stdout, checked.stderr
    with psycopg.connect(dbname=name, user=roles["app"], host=server["host"], port=server["port"]) as app:
        owners = app.execute("SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
                             "WHERE relnamespace = 'public'::regnamespace").fetchall()  # fmt: skip
        assert owners == [(roles["owner"],)]
        assert refused(app, "DELETE FROM configuration_history")


def test_the_application_role_can_neither_store_a_secret_in_the_clear_nor_drop_a_pattern(roles, data):
    boss = editor_of(username="boss", is_superuser=True)
    with connect(roles["app"]) as app:
        assert refused(app, "DELETE FROM configuration_secret_patterns")
        assert refused(app, "INSERT INTO configuration_secret_patterns VALUES ('zzz')")
        clear = pytest.raises(psycopg.errors.CheckViolation, match=r"misc.db_password \[development\]")
        with clear, app.transaction():
            app.execute("SELECT set_config('app.actor', %s, true)", [str(boss.pk)])
            app.execute("INSERT INTO system_configurations (category, config_key, config_value, environment) "
                        "VALUES ('misc', 'db_password', 'hunter2-plain', 'development')")  # fmt: skip
    assert not SystemConfiguration.objects.filter(config_key="db_password").exists()
