"""Rollback to a history entry, archiving history, and the progress bar."""

from __future__ import annotations

import datetime
import io
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from configurations import services
from configurations.management.progress import ProgressBar
from configurations.models import ConfigurationHistory, ConfigurationHistoryArchive, SystemConfiguration
from tests.conftest import subprocess_env

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def entry(key: str, new_value: str) -> ConfigurationHistory:
    return ConfigurationHistory.objects.get(config_key=key, new_value=new_value)


# -------------------------------------------------------------------------------- rollback


def test_rollback_restores_the_entrys_new_value_as_a_new_audited_change(user, history):
    for port in ("25", "587", "2525"):
        services.set_value(category="smtp", key="port", environment="production", value=port)
    target = entry("port", "587")
    history.mark()
    row = services.rollback(history_id=target.pk, actor=user, reason="2525 is blocked")
    assert services.get_value(category="smtp", key="port", environment="production") == 587
    [new] = history.rows()
    assert (new.old_value, new.new_value, new.changed_by, new.change_reason) == ("2525", "587", user, "2525 is blocked")
    assert row.pk == target.config_id


def test_a_rollback_is_recorded_as_one_and_names_the_entry_it_restored(client, user, history):
    for host in ("a.example.com", "b.example.com"):
        services.set_value(category="smtp", key="host", environment="staging", value=host)
    target = entry("host", "a.example.com")
    history.mark()
    services.rollback(history_id=target.pk, actor=user, reason="back to a")
    [written] = history.rows()
    page, _ = services.history.page(services.history.HistoryFilters(config_id=target.config_id))
    assert [(e.change, e.restored_id, e.is_current) for e in page] == [
        ("rolled back", target.pk, True), ("changed", None, False), ("created", None, False),
    ]  # fmt: skip
    assert page[0].row.pk == written.pk
    token = services.tokens.create_token(name="h", owner=user, environments=["staging"]).plaintext
    api = client.get("/api/v1/environments/staging/categories/smtp/keys/host/history/",
                     HTTP_AUTHORIZATION=f"Bearer {token}").json()  # fmt: skip
    assert (api["results"][0]["change"], api["results"][0]["rolled_back_to"]) == ("rolled back", target.pk)


def test_a_rollback_that_would_change_nothing_says_so_and_writes_nothing(history):
    for host in ("a.example.com", "b.example.com", "a.example.com"):
        services.set_value(category="smtp", key="host", environment="staging", value=host)
    first = ConfigurationHistory.objects.filter(config_key="host").order_by("id").first()
    newest = ConfigurationHistory.objects.filter(config_key="host").order_by("id").last()
    history.mark()
    for entry_id in (first.pk, newest.pk):
        with pytest.raises(services.NothingToRollBack, match="already has the value of history entry"):
            services.rollback(history_id=entry_id, reason="no-op")
    assert history.rows() == []
    out = StringIO()
    call_command("rollback_config", str(newest.pk), "--reason", "x", stdout=out)
    assert "nothing was rolled back" in out.getvalue() and history.rows() == []


def test_the_entry_holding_the_current_value_offers_no_rollback(admin_client, history):
    for host in ("a.example.com", "b.example.com"):
        services.set_value(category="smtp", key="host", environment="staging", value=host)
    current = entry("host", "b.example.com")
    listing = admin_client.get(reverse("admin:configurations_history") + f"?config={current.config_id}")
    links = [e.row.pk for e in listing.context["entries"] if not e.is_current]
    assert links == [entry("host", "a.example.com").pk]
    assert listing.content.decode().count('class="rollback-link"') == 1
    url = reverse("admin:configurations_history_rollback", args=[current.pk])
    assert "there is nothing to roll back to" in admin_client.get(url).content.decode()
    history.mark()
    admin_client.post(url, {"reason": "try"})
    assert history.rows() == []


def test_rollback_of_a_secret_says_why_it_cannot():
    services.set_value(category="smtp", key="auth_pass", environment="test", value="password-one")
    secret_entry = ConfigurationHistory.objects.get(config_key="auth_pass")
    with pytest.raises(ValidationError, match="is a secret: history keeps no secret value"):
        services.rollback(history_id=secret_entry.pk, reason="x")


def test_rollback_to_a_deletion_deactivates_and_of_a_deleted_row_recreates():
    row = services.set_value(category="app", key="k", environment="test", value="v1")
    services.deactivate(category="app", key="k", environment="test")
    services.set_value(category="app", key="k", environment="test", value="v2")
    deactivation = ConfigurationHistory.objects.get(config_key="k", action="deactivate")
    assert not services.rollback(history_id=deactivation.pk, reason="off again").is_active
    created = ConfigurationHistory.objects.get(config_key="k", action="create")
    SystemConfiguration.objects.filter(pk=row.pk).delete()
    recreated = services.rollback(history_id=created.pk, reason="bring it back")
    assert recreated.is_active and services.get_value(category="app", key="k", environment="test") == "v1"


def test_rollback_command(user):
    services.set_value(category="app", key="n", environment="test", value="1", value_type="number")
    services.set_value(category="app", key="n", environment="test", value="2")
    out = StringIO()
    call_command("rollback_config", str(entry("n", "1").pk), "--reason", "undo", "--actor", "alice", stdout=out)
    assert "Rolled back app.n [test]" in out.getvalue()
    assert services.get_value(category="app", key="n", environment="test") == 1
    with pytest.raises(CommandError, match="no history entry #999999"):
        call_command("rollback_config", "999999", "--reason", "x")


def test_rollback_in_the_admin(admin_client, staff_client, history):
    services.set_value(category="smtp", key="host", environment="production", value="a.example.com")
    services.set_value(category="smtp", key="host", environment="production", value="b.example.com")
    url = reverse("admin:configurations_history_rollback", args=[entry("host", "a.example.com").pk])
    assert "a.example.com" in admin_client.get(url).content.decode()
    history.mark()
    assert admin_client.post(url, {"reason": ""}).status_code == 200  # a reason is required
    assert history.rows() == []
    assert admin_client.post(url, {"reason": "back to a"}).status_code == 200  # production: the box, or nothing
    assert history.rows() == []
    assert admin_client.post(url, {"reason": "back to a", "confirm_production": "yes"}).status_code == 302
    assert services.get_value(category="smtp", key="host", environment="production") == "a.example.com"
    secret = services.set_value(category="smtp", key="auth_pass", environment="production", value="pw-12345678")
    page = admin_client.get(
        reverse(
            "admin:configurations_history_rollback",
            args=[ConfigurationHistory.objects.filter(config_id=secret.pk).first().pk],
        )
    )
    assert "history keeps no secret value" in page.content.decode() and "pw-12345678" not in page.content.decode()
    viewer = staff_client(username="viewer")
    assert viewer.post(url, {"reason": "sneaky"}).status_code == 403


# -------------------------------------------------------------------------------- archive
# Rows moved in batches: SQLite's (and an unpartitioned history's) way.


def _history_union() -> set:
    rows = set()
    for model in (ConfigurationHistory, ConfigurationHistoryArchive):
        rows |= set(model.objects.values_list(*[f.attname for f in model._meta.concrete_fields]))
    return rows


@pytest.fixture
def old_and_new_history(db):
    for i in range(25):
        services.set_value(category="arch", key=f"k{i:02d}", environment="test", value="v")
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=800)
    ids = list(ConfigurationHistory.objects.filter(category="arch").order_by("id").values_list("id", flat=True))
    ConfigurationHistory.objects.filter(id__in=ids[:20]).update(created_at=old)  # 20 old, 5 recent


@pytest.mark.sqlite  # PostgreSQL archives whole partitions: tests/services/test_partitions.py
def test_archive_moves_old_rows_in_batches_and_loses_nothing(old_and_new_history):
    before = _history_union()
    report = services.archive_history(older_than_days=730, batch_size=6)
    assert (report.moved, report.batches) == (20, 4)
    assert ConfigurationHistoryArchive.objects.count() == 20
    assert ConfigurationHistory.objects.filter(category="arch").count() == 5
    assert _history_union() == before


@pytest.mark.sqlite  # PostgreSQL archives whole partitions: tests/services/test_partitions.py
def test_archive_failure_midway_then_rerun_completes(old_and_new_history, monkeypatch):
    before = _history_union()
    from configurations.services import trail

    real = trail._move_to_archive
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("connection lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(trail, "_move_to_archive", failing)
    with pytest.raises(RuntimeError, match="connection lost"):
        services.archive_history(batch_size=6)
    assert ConfigurationHistoryArchive.objects.count() == 12
    assert _history_union() == before
    monkeypatch.setattr(trail, "_move_to_archive", real)
    assert services.archive_history(batch_size=6).moved == 8
    assert ConfigurationHistoryArchive.objects.count() == 20 and _history_union() == before


@pytest.mark.sqlite  # PostgreSQL archives whole partitions: tests/services/test_partitions.py
def test_archive_command_dry_run_and_default_age(old_and_new_history):
    out = StringIO()
    call_command("archive_history", "--dry-run", stdout=out)
    assert "Would archive 20 history rows older than 730 days." in out.getvalue()
    assert not ConfigurationHistoryArchive.objects.exists()
    call_command("archive_history", "--batch-size", "7", stdout=out)
    assert "Archived 20 history rows in 3 batches." in out.getvalue()
    with pytest.raises(CommandError, match="--batch-size at least 1"):
        call_command("archive_history", "--batch-size", "0")


@pytest.mark.sqlite  # PostgreSQL archives whole partitions: tests/services/test_partitions.py
def test_archived_rows_are_browsable_read_only(admin_client, old_and_new_history):
    services.archive_history(batch_size=100)
    archived = ConfigurationHistoryArchive.objects.first()
    assert admin_client.get(reverse("admin:configurations_configurationhistoryarchive_changelist")).status_code == 200
    detail = admin_client.get(reverse("admin:configurations_configurationhistoryarchive_change", args=[archived.pk]))
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert (
        admin_client.post(
            reverse("admin:configurations_configurationhistoryarchive_delete", args=[archived.pk]), {"post": "yes"}
        ).status_code
        == 403
    )


@pytest.mark.postgres
def test_the_specs_archive_statement_and_ours_agree(old_and_new_history):
    with connection.cursor() as cursor:
        cursor.execute("""WITH archived AS (DELETE FROM configuration_history
                          WHERE created_at < NOW() - INTERVAL '2 years' RETURNING *)
                          INSERT INTO configuration_history_archive SELECT * FROM archived""")
    assert ConfigurationHistoryArchive.objects.count() == 20


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_archive_command_in_a_real_process(old_and_new_history):
    result = subprocess.run(
        [sys.executable, "manage.py", "archive_history", "--batch-size", "5"],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Archived 20 history rows in 4 batches." in result.stdout
    assert result.stderr == ""  # no progress bar off a terminal


# ----------------------------------------------------------------------------- progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal_only():
    terminal, pipe = FakeTerminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = ProgressBar(stream)
        bar("importing", 5, 10)
        bar("importing", 10, 10)
    assert "importing" in terminal.getvalue() and "10/10" in terminal.getvalue() and "#" in terminal.getvalue()
    assert pipe.getvalue() == ""
