"""Incremental refreshes: a change costs a few queries whatever the table's size, and gives the same snapshot as a
full load; a full load happens exactly when a delta cannot tell what changed. Both databases."""

from __future__ import annotations

import pytest
from django.db import connection

from configurations import runtime, services
from configurations.data import queries
from configurations.data.models import ConfigurationHistory, SystemConfiguration
from configurations.runtime import snapshots
from configurations.services import trail
from tests.factories import age_history

pytestmark = pytest.mark.django_db
ENV = "production"


@pytest.fixture(autouse=True)
def fresh_runtime(settings):
    settings.CONFIG_ENVIRONMENT = ENV
    runtime.reset()
    yield
    runtime.reset()


@pytest.fixture
def loaded():
    for i in range(30):
        services.set_value(category="bulk", key=f"k{i:02}", environment=ENV, value=str(i), value_type="number")
    services.set_value(category="smtp", key="host", environment=ENV, value="a.example.com")
    services.set_value(category="smtp", key="auth_pass", environment=ENV, value="delta-secret-1")
    services.set_value(category="smtp", key="host", environment="staging", value="staging.example.com")
    runtime.reload(ENV)
    return runtime.snapshot(ENV)


def refresh():
    snapshots.refresh(runtime._django_query, [ENV])


def full_load_figures():
    """What a full load from scratch gives: the reference every delta must match."""
    rows = runtime._django_query(queries.SNAPSHOT_SQL, [ENV])
    versions = runtime._django_query(queries.VERSIONS_SQL, [ENV])
    return snapshots.build_snapshot(ENV, rows, {c: v for c, v in versions if c is not None})


def flat(snapshot) -> dict:
    return {(c, k): v for c, keys in snapshot.by_category.items() for k, v in keys.items()}


def assert_same_as_full_load(snapshot):
    reference = full_load_figures()
    assert snapshot.by_category == reference.by_category
    assert snapshot.secret == reference.secret
    assert snapshot.category_versions == reference.category_versions


def test_a_change_is_applied_as_a_delta_in_one_query(loaded, django_assert_num_queries):
    services.set_value(category="smtp", key="host", environment=ENV, value="b.example.com")
    full_loads = snapshots.store.full_loads
    with django_assert_num_queries(1):  # the heads, the history after the id seen, archived since, the changed rows
        refresh()
    assert snapshots.store.full_loads == full_loads
    current = runtime.snapshot(ENV)
    assert runtime.get("smtp", "host") == "b.example.com"
    assert current.version > loaded.version
    assert current.category_version("smtp") == current.version
    assert current.category_version("bulk") == loaded.category_version("bulk")
    assert current.by_category["bulk"] is loaded.by_category["bulk"]  # untouched categories are shared, not copied
    assert loaded.by_category["smtp"]["host"] == "a.example.com"  # readers holding the old snapshot see it unchanged
    assert_same_as_full_load(current)


def test_nothing_new_costs_one_query_and_keeps_the_snapshot(loaded, django_assert_num_queries):
    with django_assert_num_queries(1):
        refresh()
    assert runtime.snapshot(ENV) is loaded


def test_creates_deactivations_deletes_renames_and_moves_match_a_full_load(loaded):
    services.set_value(category="new", key="one", environment=ENV, value="1", value_type="number")
    services.deactivate(category="bulk", key="k00", environment=ENV)
    services.set_value(category="smtp", key="auth_pass", environment=ENV, value="delta-secret-2")
    SystemConfiguration.objects.filter(category="bulk", config_key="k01", environment=ENV).delete()
    SystemConfiguration.objects.filter(category="bulk", config_key="k02", environment=ENV).update(config_key="k02b")
    SystemConfiguration.objects.filter(category="bulk", config_key="k03", environment=ENV).update(category="moved")
    SystemConfiguration.objects.filter(category="bulk", config_key="k04", environment=ENV).update(environment="staging")
    SystemConfiguration.objects.filter(category="smtp", config_key="host", environment="staging").update(
        environment=ENV, config_key="host2"
    )
    refresh()
    current = runtime.snapshot(ENV)
    values = flat(current)
    assert snapshots.store.deltas >= 1
    assert ("bulk", "k00") not in values and ("bulk", "k01") not in values
    assert values["bulk", "k02b"] == 2 and ("bulk", "k02") not in values
    assert values["moved", "k03"] == 3 and ("bulk", "k04") not in values
    assert values["smtp", "host2"] == "staging.example.com"
    assert runtime.get("smtp", "auth_pass") == "delta-secret-2"
    assert current.secret_keys("smtp") == ["auth_pass"]
    assert_same_as_full_load(current)


def test_a_category_emptied_by_deletes_leaves_the_snapshot_but_keeps_its_version(loaded):
    SystemConfiguration.objects.filter(category="smtp", environment=ENV).delete()
    refresh()
    current = runtime.snapshot(ENV)
    assert "smtp" not in current.by_category
    assert current.category_version("smtp") > loaded.category_version("smtp")
    assert_same_as_full_load(current)


@pytest.mark.parametrize("reason", ["head went back", "archived", "too many"])
def test_a_full_load_when_a_delta_cannot_tell(loaded, reason, monkeypatch):
    services.set_value(category="smtp", key="host", environment=ENV, value="c.example.com")
    if reason == "head went back":
        snapshots.store.seen += 1_000_000  # as after a restore from an older backup
    elif reason == "archived":
        # The change's row is archived (moved, or its month's partition archived whole) before this process saw it.
        age_history(ConfigurationHistory.objects.values_list("id", flat=True), days=800)
        assert trail.archive_history(older_than_days=730).moved
    else:
        monkeypatch.setattr(snapshots, "DELTA_LIMIT", 2)
        services.apply_changes(
            [services.Change("bulk", f"k{i:02}", ENV, str(100 + i)) for i in range(5)], reason="many"
        )
    full_loads = snapshots.store.full_loads
    refresh()
    assert snapshots.store.full_loads == full_loads + 1
    assert runtime.get("smtp", "host") == "c.example.com"
    assert_same_as_full_load(runtime.snapshot(ENV))


def test_delta_queries_do_not_grow_with_the_table(loaded, django_assert_num_queries):
    services.apply_changes(
        [services.Change("big", f"key{i:04}", ENV, str(i), "number") for i in range(1500)], reason="grow"
    )
    refresh()
    services.set_value(category="big", key="key0007", environment=ENV, value="7000", value_type="number")
    with django_assert_num_queries(1):
        refresh()
    assert runtime.get("big", "key0007") == 7000


@pytest.mark.postgres
@pytest.mark.parametrize("statistics", [False, True], ids=["without statistics", "analyzed"])
def test_the_delta_finds_the_changed_rows_by_their_key_not_by_a_scan(loaded, statistics):
    """The delta's one statement names the changed rows through its history CTE: PostgreSQL must probe the primary key
    for them, whatever it knows of the tables, or a refresh would cost the whole table's size."""
    services.apply_changes(
        [services.Change("big", f"key{i:04}", ENV, str(i), "number") for i in range(3000)], reason="grow"
    )
    refresh()
    services.set_value(category="big", key="key0007", environment=ENV, value="7000", value_type="number")
    since = snapshots.store.seen
    with connection.cursor() as cursor:
        if statistics:
            cursor.execute("ANALYZE system_configurations")
        cursor.execute(
            "EXPLAIN (FORMAT JSON) " + queries.DELTA_SQL_BY_VENDOR["postgresql"],
            [since, snapshots.DELTA_LIMIT + 1, since, since],
        )
        plan = cursor.fetchone()[0]

    def nodes(node):
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    reads = [n["Node Type"] for n in nodes(plan[0]["Plan"]) if n.get("Relation Name") == "system_configurations"]
    assert reads and all(kind.startswith(("Index", "Bitmap")) for kind in reads), reads
    refresh()
    assert runtime.get("big", "key0007") == 7000


def test_versions_are_history_ids_in_commit_order(loaded):
    services.set_value(category="smtp", key="host", environment=ENV, value="d.example.com")
    refresh()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MAX(id) FROM configuration_history WHERE environment = %s AND category = %s", [ENV, "smtp"]
        )
        newest = cursor.fetchone()[0]
    assert runtime.snapshot(ENV).category_version("smtp") == newest
    assert runtime.status()["environments"][ENV]["version"] == runtime.snapshot(ENV).version


def test_a_forked_worker_adopts_the_parents_snapshot_with_a_delta_not_a_full_load(loaded, django_assert_num_queries):
    """What gunicorn's workers do when the master loaded the snapshot before forking (config_site/gunicorn.conf.py):
    the child keeps it, brings it up to date with a delta on first use, and never loads it whole."""
    services.set_value(category="bulk", key="k01", environment=ENV, value="101", value_type="number")
    snapshots.store.after_fork()  # what os.register_at_fork runs in the child
    assert not runtime.has_snapshot(ENV) and snapshots.store.watcher is None
    with django_assert_num_queries(1):  # the delta, whatever the table's size
        assert runtime.get("bulk", "k01", environment=ENV) == 101  # the change made after the parent loaded
    assert (snapshots.store.full_loads, snapshots.store.deltas) == (0, 1)
    assert_same_as_full_load(runtime.snapshot(ENV))
