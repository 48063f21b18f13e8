"""The hot paths' functions themselves, called as SQL (PostgreSQL; data/triggers/hot_path.py): the write that lands
only while what was read still holds, and a category's version."""

from __future__ import annotations

import json

import pytest
from django.db import connection, utils

from configurations import services
from configurations.models import ConfigurationHistory, SystemConfiguration
from configurations.services.versions import category_version

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _call(order: dict):
    """What the write answers: the rows written, their new version and the history's head after them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM config_write_if_unchanged(%s::jsonb)", [json.dumps(order)])
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
        **extra,
    }


def _seen(row: SystemConfiguration) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text FROM system_configurations WHERE id = %s", [row.id])
        return cursor.fetchone()[0]


def test_the_write_lands_with_its_audit_context_while_the_row_is_the_version_read():
    row = services.set_value(category="c", key="k", environment="test", value="a")
    [(written, version, head)] = _call(_order(row, _seen(row), "b"))
    entry = ConfigurationHistory.objects.filter(config_key="k").order_by("-id")[0]
    assert (entry.old_value, entry.new_value, entry.change_reason) == ("a", "b", "raw call")
    # One row written; its new version is the xmin it now has; the head is the history row the write added.
    assert (written, version, head) == (1, _seen(row), entry.id)


@pytest.mark.parametrize("stale", ["row", "version", "policy"])
def test_anything_read_that_changed_refuses_the_whole_write_with_cf001(stale):
    row = services.set_value(category="c", key="k", environment="test", value="a")
    seen, extra = _seen(row), {}
    if stale == "row":
        services.set_value(category="c", key="k", environment="test", value="moved")
    elif stale == "version":
        extra = {"version": {"environment": "test", "category": "c", "versions": [category_version("test", "c") - 1]}}
    else:
        services.set_policy("test", approvals=1)
    count = ConfigurationHistory.objects.count()
    with pytest.raises(utils.DatabaseError) as raised:
        _call(_order(row, seen, "ours", **extra))
    assert raised.value.__cause__.sqlstate == "CF001"
    assert ConfigurationHistory.objects.count() == count
    assert SystemConfiguration.objects.get(id=row.id).config_value == ("moved" if stale == "row" else "a")


def test_a_category_version_is_its_newest_history_id_in_the_environment():
    assert category_version("production", "smtp") == 0
    services.set_value(category="smtp", key="host", environment="production", value="a.example.com")
    services.set_value(category="smtp", key="host", environment="test", value="other")
    newest = ConfigurationHistory.objects.filter(category="smtp", environment="production").order_by("-id")[0]
    assert category_version("production", "smtp") == newest.id
