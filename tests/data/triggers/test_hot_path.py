"""The hot paths' functions themselves, called as SQL (PostgreSQL; data/triggers/hot_path.py): the write that lands
only while what was read still holds, and a category's version."""

from __future__ import annotations

import datetime
import json
import threading
import time

import psycopg
import pytest
from django.db import connection, transaction, utils

from configurations import services
from configurations.core.vocabulary import Change
from configurations.data.triggers.history_postgresql import TOUCHED_AT
from configurations.models import ConfigurationHistory, SystemConfiguration
from configurations.services.versions import category_version
from tests.factories import MetadataFactory, editor_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True, params=["one row", "two rows"])
def companion(request, transactional_db):
    """Each write alone (the path of one row of one key) and beside another row written at its version (the path of
    several): that row's value is the one it has, so it adds no history and changes no answer about ``row``."""
    global _COMPANION
    _COMPANION = (
        services.set_value(category="c", key="companion", environment="test", value="same")
        if request.param == "two rows"
        else None
    )
    yield _COMPANION
    _COMPANION = None


_COMPANION: SystemConfiguration | None = None


def _written() -> int:
    """How many rows a write of the row under test says it wrote (the companion's too)."""
    return 1 + (_COMPANION is not None)


def _call(order: dict):
    """What the write answers: why it wrote nothing (None: it wrote), the rows written, their new version and the
    history's head; then, where something read had changed, each wanted row's id, value and version as they are now
    (the companion's left out)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT refused, written, version, head, (item).id, (item).config_value, item_seen "
            "FROM config_write_or_read(%s::jsonb)",
            [json.dumps(order)],
        )
        answers = cursor.fetchall()
    return [a for a in answers if _COMPANION is None or a[4] is None or a[4] != _COMPANION.id]


_ACTIVE = {"is_active": True}


def _order(row: SystemConfiguration, seen: str, value: str, **extra) -> dict:
    """The order the application sends (data/optimistic.py, ``_order``): ``row`` written with ``value`` at ``seen``,
    beside the companion if there is one."""
    rows = [(row, seen, value)] + ([(_COMPANION, _seen(_COMPANION), "same")] if _COMPANION else [])
    rows.sort(key=lambda item: item[0].id)
    return {
        "settings": {"app.reason": "raw call", "app.actor": "", "app.ip_address": "", "app.user_agent": ""},
        "locks": [1],
        "rows": [
            {"id": r.id, "config_value": v, "value_type": "string", "is_encrypted": False, **_ACTIVE, "seen": s}
            for r, s, v in rows
        ],
        "metadata": sorted(
            ({"category": r.category, "config_key": r.config_key} for r, _, _ in rows),
            key=lambda m: (m["category"], m["config_key"]),
        ),
        "metadata_seen": [],
        "environments": [row.environment],
        "version": None,
        "wanted": [[r.category, r.config_key, r.environment] for r, _, _ in rows],
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
    assert answer == (None, _written(), _seen(row), entry.id, None, None, None)


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
    assert _call(_order(row, _seen(row), "c"))[0][:2] == (None, _written())
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
    [mine] = [r for r in order["rows"] if r["id"] == row.id]
    mine["loose"] = True
    [answer] = _call(order)
    if written:
        assert answer[:2] == (None, _written())
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
    order = _order(row, seen, "ours")  # the key had no metadata when it was read
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


def test_the_write_gives_updated_at_and_updated_by_as_config_touch_row_would():
    """The write's UPDATE gives both columns the values config_touch_row sets, so that the trigger assigns nothing
    (an assignment was most of its cost): a trigger that fires before it refuses any other value."""
    user = editor_of("test", username="editor")
    row = services.set_value(category="c", key="k", environment="test", value="a")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_touch_would_assign() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.updated_at IS DISTINCT FROM {TOUCHED_AT.format(row='OLD')} "
            "OR NEW.updated_by IS DISTINCT FROM COALESCE(config_audit_setting('actor')::uuid, OLD.updated_by) THEN "
            "RAISE EXCEPTION 'config_touch_row would assign'; END IF; RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER a_touch_would_assign BEFORE UPDATE ON system_configurations "
            "FOR EACH ROW EXECUTE FUNCTION test_touch_would_assign()"
        )
    try:
        for actor, value in ((user, "b"), (None, "c")):
            services.set_value(category="c", key="k", environment="test", value=value, actor=actor)
        other = services.set_value(category="c", key="other", environment="test", value="a")
        # Several rows at once: the general path's UPDATE.
        services.apply_changes(
            [Change("c", "k", "test", "d", None, None), Change("c", "other", "test", "b", None, None)]
        )
        row.refresh_from_db()
        other.refresh_from_db()
        assert (row.config_value, row.updated_by, other.config_value) == ("d", user, "b")  # the check passed
        with pytest.raises(utils.DatabaseError, match="would assign"), transaction.atomic():
            _raw_update(row, "config_value = 'e'")  # a writer that gives neither: the check is live
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER a_touch_would_assign ON system_configurations")
            cursor.execute("DROP FUNCTION test_touch_would_assign()")


def test_a_changed_rows_updated_at_is_the_statements_time_and_strictly_later_within_one():
    row = services.set_value(category="c", key="k", environment="test", value="a")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE system_configurations SET config_value = 'b' WHERE id = %s "
            "RETURNING updated_at = statement_timestamp()",
            [row.id],
        )
        assert cursor.fetchone() == (True,)
        # Two changes in one statement's time: the second is a microsecond later, not the same.
        cursor.execute(
            f"DO $$ BEGIN UPDATE system_configurations SET config_value = 'c' WHERE id = {int(row.id)}; "
            f"UPDATE system_configurations SET config_value = 'd' WHERE id = {int(row.id)}; END $$"
        )
    stamps = list(
        ConfigurationHistory.objects.filter(config_id=row.id).order_by("id").values_list("created_at", flat=True)
    )
    assert stamps[-1] - stamps[-2] == datetime.timedelta(microseconds=1)


def _raw_update(row: SystemConfiguration, assignments: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE system_configurations SET {assignments} WHERE id = %s", [row.id])
