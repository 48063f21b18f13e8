"""services.versions: a category's version moves exactly when the category does; one stale check for all."""

from __future__ import annotations

import pytest

from configurations import services
from configurations.models import ConfigurationHistory

pytestmark = pytest.mark.django_db


def test_the_version_is_the_newest_history_id_of_the_category_in_the_environment():
    assert services.category_version("test", "app") == 0
    services.set_value(category="app", key="a", environment="test", value="1")
    services.set_value(category="app", key="a", environment="staging", value="1")
    newest = ConfigurationHistory.objects.filter(category="app", environment="test").latest("id").id
    assert services.category_version("test", "app") == newest


def test_a_write_that_changes_nothing_leaves_the_version():
    services.set_value(category="app", key="a", environment="test", value="1")
    before = services.category_version("test", "app")
    services.set_value(category="app", key="a", environment="test", value="1")
    assert services.category_version("test", "app") == before


def test_adding_changing_deactivating_and_deleting_a_key_each_move_it():
    versions = [services.category_version("test", "app")]
    services.set_value(category="app", key="a", environment="test", value="1")
    versions.append(services.category_version("test", "app"))
    services.set_value(category="app", key="a", environment="test", value="2")
    versions.append(services.category_version("test", "app"))
    services.deactivate(category="app", key="a", environment="test")
    versions.append(services.category_version("test", "app"))
    row = services.set_value(category="app", key="b", environment="test", value="x")
    services.delete_configurations([row.pk], reason="gone")
    versions.append(services.category_version("test", "app"))
    assert versions == sorted(set(versions)) and len(versions) == 5


def test_check_version_refuses_a_version_the_category_moved_past():
    services.set_value(category="app", key="a", environment="test", value="1")
    read = services.category_version("test", "app")
    services.check_version("test", "app", {read})
    services.check_version("test", "app", None)  # no condition
    services.set_value(category="app", key="a", environment="test", value="2")
    with pytest.raises(services.StaleVersion):
        services.check_version("test", "app", {read})
    with pytest.raises(services.StaleVersion):
        services.check_version("test", "app", {services.category_version("test", "app")}, current=read)
