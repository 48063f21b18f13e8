"""The hot paths' functions themselves, called as SQL (PostgreSQL; data/triggers/hot_path.py): the write that lands
only while what was read still holds, and a category's version."""

from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest
from django.db import connection, utils

from configurations import services
from configurations.models import ConfigurationHistory, SystemConfiguration
from configurations.services.versions import category_version
from tests.factories import MetadataFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _call(order: dict):
    """What the write answers: why it wrote nothing (None: it wrote), the rows written, their new version and the
    history's head; then, where something read had changed, each wanted row's id, value and version as they are now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT refused, written, version, head, (item).id, (item).config_value, item_seen "
            "FROM config_write_or_read(%s::jsonb)",
            [json.dumps(order)],
        )
        return cursor.fetchall()


_ACTIVE = {"is_active": True}


def _order(row: SystemConfiguration, seen: str, value: str, **extra) -> dict:
    return {
        "settings": {"app.reason": "raw call", "app.actor": "", "app.ip_address": "", "app.user_agent": ""},
        "locks": [1],
        "rows": [
            {
                "id": row.id,
                "config_value": value,
                "value_type": "string",
                "is_encrypted": False,
                **_ACTIVE,
                "seen": seen,
            }
        ],
        "metadata": [],
        "metadata_seen": [],
        "environments": [row.environment],
        "version": None,
        "wanted": [[row.category, row.config_key, row.environment]],
        **extra,
    }


def _seen(row: SystemConfiguration) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text FROM system_configurations WHERE id = %s", [row.id])
        return cursor.fetchone()[0]


def test_the_write_lands_with_its_audit_context_while_the_row_is_the_version_read():
    row = services.set_value(category="c", key="k", environment="test", value="a")
    [answer] = _call(_order(row, _seen(row), "b"))
    entry = ConfigurationHistory.objects.filter(config_key="k").order_by("-id")[0]
    assert (entry.old_value, entry.new_value, entry.change_reason) == ("a", "b", "raw call")
    # One row written; its new version is the xmin it now has; the head is the history row the write added.
    assert answer == (None, 1, _seen(row), entry.id, None, None, None)


def test_the_write_answers_the_version_of_the_category_asked_for():
    """Asked for (the API's new version): the category's newest history id, the write's own; not asked: none."""
    row = services.set_value(category="c", key="k", environment="test", value="a")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT head, category_version FROM config_write_or_read(%s::jsonb)",
            [json.dumps(_order(row, _seen(row), "b", answer={"environment": "test", "category": "c"}))],
        )
        [(head, version)] = cursor.fetchall()
    assert version == head == category_version("test", "c") == ConfigurationHistory.objects.latest("id").id
    assert _call(_order(row, _seen(row), "c"))[0][:2] == (None, 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT category_version FROM config_write_or_read(%s::jsonb)", [json.dumps(_order(row, _seen(row), "d"))]
        )
        assert cursor.fetchall() == [(None,)]


def test_a_row_changed_since_it_was_read_writes_nothing_and_answers_it_as_it_is_now():
    row = services.set_value(category="c", key="k", environment="test", value="a")
    seen = _seen(row)
    services.set_value(category="c", key="k", environment="test", value="moved")
    count, head = ConfigurationHistory.objects.count(), ConfigurationHistory.objects.order_by("-id")[0].id
    assert _call(_order(row, seen, "ours")) == [("changed", 0, None, head, row.id, "moved", _seen(row))]
    assert ConfigurationHistory.objects.count() == count
    assert SystemConfiguration.objects.get(id=row.id).config_value == "moved"


@pytest.mark.parametrize(
    ("elsewhere", "written"),
    [("moved", True), ("ours", False), ("typed", False), ("inactive", False)],
)
def test_a_loose_row_is_written_over_another_value_of_its_type(elsewhere, written):
    """A row marked loose (migration 0033) is written whatever value another writer left, if it is still active, in
    the clear and of its type, and that value is not the one written; else it is answered as it is now."""
    row = services.set_value(category="c", key="k", environment="test", value="a")
    seen = _seen(row)
    change = {
        "moved": "config_value = 'moved'",
        "ours": "config_value = 'ours'",
        "typed": "config_value = '7', value_type = 'number'",
        "inactive": "is_active = false",
    }[elsewhere]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE system_configurations SET {change} WHERE id = %s", [row.id])
    before = SystemConfiguration.objects.get(id=row.id).config_value
    order = _order(row, seen, "ours")
    order["rows"][0]["loose"] = True
    [answer] = _call(order)
    if written:
        assert answer[:2] == (None, 1)
        entry = ConfigurationHistory.objects.filter(config_key="k").order_by("-id")[0]
        assert (entry.old_value, entry.new_value) == (before, "ours")
    else:
        assert answer[:2] == ("changed", 0) and answer[4:6] == (row.id, before)
    assert SystemConfiguration.objects.get(id=row.id).config_value == ("ours" if written else before)


def test_metadata_changed_since_it_was_read_writes_nothing_and_answers_the_row():
    row = services.set_value(category="c", key="k", environment="test", value="a")
    seen = _seen(row)
    MetadataFactory(category="c", config_key="k")  # none when it was read
    count = ConfigurationHistory.objects.count()
    order = _order(row, seen, "ours", metadata=[{"category": "c", "config_key": "k"}], metadata_seen=[])
    [(refused, written, _, _, config_id, value, version)] = _call(order)
    assert (refused, written, config_id, value, version) == ("changed", 0, row.id, "a", seen)
    assert ConfigurationHistory.objects.count() == count


@pytest.mark.parametrize("stale", ["version", "policy"])
def test_a_policy_or_the_callers_condition_refuses_without_reading(stale):
    row = services.set_value(category="c", key="k", environment="test", value="a")
    if stale == "version":
        extra = {"version": {"environment": "test", "category": "c", "versions": [category_version("test", "c") - 1]}}
    else:
        extra = {}
        services.set_policy("test", approvals=1)
    count = ConfigurationHistory.objects.count()
    assert _call(_order(row, _seen(row), "ours", **extra)) == [("refused", 0, None, None, None, None, None)]
    assert ConfigurationHistory.objects.count() == count
    assert SystemConfiguration.objects.get(id=row.id).config_value == "a"


def test_a_row_changed_between_the_check_and_the_update_refuses_the_whole_write_with_cf001():
    """A writer that takes no category lock (a raw UPDATE) holds the row when the write checks it, and commits while
    the write's UPDATE waits for it: the UPDATE then finds another version, and the write raises, undoing all."""
    row = services.set_value(category="c", key="k", environment="test", value="a")
    seen = _seen(row)
    other = psycopg.connect(**_dsn(), autocommit=False)
    try:
        other.execute("UPDATE system_configurations SET config_value = 'raw' WHERE id = %s", [row.id])
        outcome = {}

        def call():
            try:
                outcome["answer"] = _call(_order(row, seen, "ours"))
            except utils.DatabaseError as error:
                outcome["sqlstate"] = error.__cause__.sqlstate
            finally:
                connection.close()

        count = ConfigurationHistory.objects.count()
        writer = threading.Thread(target=call)
        writer.start()
        _wait_for_a_lock_wait()
        other.commit()
        writer.join(10)
    finally:
        other.close()
    assert outcome == {"sqlstate": "CF001"}
    assert ConfigurationHistory.objects.count() == count + 1  # the raw UPDATE's, not ours
    assert SystemConfiguration.objects.get(id=row.id).config_value == "raw"


def _dsn() -> dict:
    settings = connection.settings_dict
    return {"dbname": settings["NAME"], "user": settings["USER"], "host": settings["HOST"], "port": settings["PORT"]}


def _wait_for_a_lock_wait() -> None:
    """Until a session of this database waits for a row lock (the write's UPDATE)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with psycopg.connect(**_dsn(), autocommit=True) as observer:
            waiting = observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE %s",
                ["%config_write_or_read%"],
            ).fetchone()[0]
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError("the write never waited for the row")


def test_a_category_version_is_its_newest_history_id_in_the_environment():
    assert category_version("production", "smtp") == 0
    services.set_value(category="smtp", key="host", environment="production", value="a.example.com")
    services.set_value(category="smtp", key="host", environment="test", value="other")
    newest = ConfigurationHistory.objects.filter(category="smtp", environment="production").order_by("-id")[0]
    assert category_version("production", "smtp") == newest.id
