from __future__ import annotations

import os
import secrets
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from configurations.data import write_memory
from configurations.data.triggers import records
from configurations.models import AuditChainHead, ConfigurationHistory
from tests import chromium as browser_support
from tests.factories import UserFactory, editor_of
from tests.webhook_receiver import Receiver


@receiver(post_migrate, dispatch_uid="tests-record-chains-after-flush")
def _restart_record_chains_after_flush(using, sender, **kwargs):
    """A transactional test's flush empties the record tables after their triggers chained the flushed rows'
    delete records: an emptied table's chain starts afresh, as a new database's does (flush emits post_migrate)."""
    tables = set(connection.introspection.table_names())
    if sender.label != "configurations" or AuditChainHead._meta.db_table not in tables:
        return  # migrated back below the record history
    with connection.cursor() as cursor:
        for history in set(records.RECORDED.values()) & tables:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {history})")
            if not cursor.fetchone()[0]:
                AuditChainHead.objects.using(using).filter(table_name=history).delete()


@pytest.fixture(autouse=True)
def _nothing_remembered():
    """Each test starts with nothing remembered of earlier tests' rows (data/write_memory.py): a flushed database's
    rows are new, and a stale memory would cost a write one refused round trip, which the query counts would see."""
    write_memory.forget()


def pytest_collection_modifyitems(config, items):
    """Run each test on the databases it concerns; the others are deselected, not skipped."""
    other = "sqlite" if connection.vendor == "postgresql" else "postgres"
    deselected = [item for item in items if item.get_closest_marker(other)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker(other)]


def pytest_report_header(config):
    return f"database: {connection.vendor} ({connection.settings_dict['NAME']})"


def pytest_sessionfinish(session, exitstatus):
    """On CI nothing may be skipped: a skipped PostgreSQL or browser test is a failure."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") and skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) were skipped; skips are failures on CI.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and call.when == "call":
        for name in ("browser", "second_browser"):
            driver = item.funcargs.get(name) if hasattr(item, "funcargs") else None
            if driver is not None:
                path = browser_support.save_screenshot(driver, f"{item.name}-{name}")
                report.sections.append(("screenshot", str(path)))
    return report


@pytest.fixture
def browser():
    driver = browser_support.start()
    yield driver
    driver.quit()


@pytest.fixture
def second_browser():
    driver = browser_support.start()
    yield driver
    driver.quit()


@pytest.fixture
def browser_editor(transactional_db):
    """For browser tests: the shipped data (flushed by earlier transactional tests) and a superuser 'editor'."""
    browser_support.load_shipped_data()
    return UserFactory(username="editor", is_staff=True, is_superuser=True)


@pytest.fixture
def development_runtime(settings):
    """CONFIG_ENVIRONMENT=development and a runtime with nothing loaded, before and after the test."""
    from configurations import runtime

    settings.CONFIG_ENVIRONMENT = "development"
    runtime.reset()
    yield
    runtime.reset()


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def staff_client(client, db):
    """A logged-in staff user without superuser powers; call it with the permissions to grant."""

    def make(*codenames: str, username: str = "staffer"):
        staff = UserFactory(username=username, is_staff=True)
        staff.user_permissions.add(
            *Permission.objects.filter(content_type__app_label="configurations", codename__in=codenames)
        )
        client.force_login(staff)
        return client

    return make


@pytest.fixture
def developer_user(client, db):
    """dev-only: a logged-in staff user who may edit development only, with every model permission of the app."""
    user = editor_of("development", username="dev-only")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="configurations").exclude(codename__startswith="edit_")
    )
    client.force_login(user)
    return user


@pytest.fixture
def user(db):
    """alice, a staff user who may edit every environment: services act with their actor's permissions."""
    return editor_of(username="alice")


@pytest.fixture
def history():
    """The history rows written since the fixture was set up, oldest first."""

    class Recorder:
        def __init__(self):
            self.mark()

        def mark(self):
            """Forget the rows written so far."""
            self.start = ConfigurationHistory.objects.order_by("-id").values_list("id", flat=True).first() or 0

        def rows(self, **filters):
            return list(ConfigurationHistory.objects.filter(id__gt=self.start, **filters).order_by("id"))

    return Recorder()


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for running manage.py in a subprocess against the current test database."""
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = settings["USER"] + (f":{settings['PASSWORD']}" if settings.get("PASSWORD") else "")
        url = f"postgres://{auth}@{settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    else:
        url = f"sqlite:///{settings['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings", **extra}


def drop_archived_partitions() -> None:
    """Drop the history partitions a test archived (PostgreSQL): a flush cannot truncate the users they refer to."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE 'configuration\\_history\\_archived\\_%'")
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TABLE "{name}"')


@pytest.fixture
def archiving(transactional_db):
    """A transactional test that archives history partitions: they are dropped before the flush."""
    yield
    if connection.vendor == "postgresql":
        drop_archived_partitions()


@pytest.fixture
def roles(transactional_db):
    """The owner, application and reader roles of ``setup_database_roles``, unique to this run (PostgreSQL)."""

    suffix = secrets.token_hex(4)
    names = {"owner": f"cfgt_{suffix}_owner", "app": f"cfgt_{suffix}_app", "reader": f"cfgt_{suffix}_reader"}
    setup = ["--owner-role", names["owner"], "--app-role", names["app"], "--reader-role", names["reader"]]
    call_command("setup_database_roles", *setup, "--reader-environment", "development", stdout=StringIO())
    yield {**names, "setup": setup}
    drop_archived_partitions()
    with connection.cursor() as cursor:
        for policy in ("config_app_read", "config_user_access", "config_reader_access"):
            cursor.execute(f"DROP POLICY IF EXISTS {policy} ON system_configurations")
        cursor.execute("ALTER TABLE system_configurations DISABLE ROW LEVEL SECURITY")
        cursor.execute(f'REASSIGN OWNED BY "{names["owner"]}" TO current_user')
        cursor.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{connection.settings_dict["NAME"]}" TO PUBLIC')
        for name in names.values():
            cursor.execute(f'DROP OWNED BY "{name}"')
            cursor.execute(f'DROP ROLE "{name}"')


@pytest.fixture
def local_hooks(settings):
    """Local webhook receivers are allowed (the SSRF guard refuses 127.0.0.1 and http:// by default)."""
    settings.CONFIG_WEBHOOK_ALLOW_PRIVATE = True
    settings.CONFIG_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    return settings


@pytest.fixture
def receiver(local_hooks):
    """A real HTTP receiver on 127.0.0.1 (tests/webhook_receiver.py)."""
    found = Receiver()
    yield found
    found.stop()


@pytest.fixture
def subscribed(local_hooks, db):
    """A paused webhook endpoint: the outbox records events only while an endpoint exists (data/triggers/outbox.py)."""
    from configurations.services import webhooks

    found, _ = webhooks.add_endpoint("paused", "http://127.0.0.1:9/in", is_active=False)
    return found


@pytest.fixture
def endpoint(receiver, db):
    """A webhook endpoint for every change of development and production; ``endpoint.secret`` signs."""
    from configurations.services import webhooks

    found, secret = webhooks.add_endpoint("hooks", receiver.url, environments=["development", "production"])
    found.secret = secret
    return found
