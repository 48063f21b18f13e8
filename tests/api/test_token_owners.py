"""A token's owner from memory while the runtime's watcher follows the database (both engines): a write costs no
query for the owner, and a permission taken away on any path (the owner's own, a group's, a group left, the permission
itself) is refused within the watcher's delay, as a revoked token is (migration 0030 notifies)."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from configurations import runtime, services
from configurations.data.model_base import User
from tests.api.test_views import make_token, put
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
BOUND = 5.0  # generous: a refusal is expected within the watcher's delay (milliseconds; 20 ms polls on SQLite)


@pytest.fixture
def following(settings, client):
    """The runtime's watcher following the database (SQLite's polling every 20 ms), the tokens in memory."""
    settings.CONFIG_RUNTIME_WATCH = True
    settings.CONFIG_ENVIRONMENT = "development"
    settings.CONFIG_RUNTIME_POLL_INTERVAL = 0.02
    runtime.reset()
    services.set_value(category="owners", key="k", environment="development", value="0")
    assert runtime.get("owners", "k", environment="development") == "0"  # starts the watcher
    assert runtime.wait_until_following(BOUND)
    yield
    runtime.reset()


@pytest.fixture
def owner():
    """A staff user who may edit nothing yet."""
    return UserFactory(username="remembered-owner", is_staff=True)


def _edit_development() -> Permission:
    return Permission.objects.get(content_type__app_label="configurations", codename="edit_development")


def _answers(client, token, status: int) -> None:
    """PUT until the answer is ``status`` (the watcher has reloaded the owner), within BOUND seconds. The same value
    each time: once written, a PUT writes nothing, so that only the change under test can make the watcher reload."""
    deadline = time.monotonic() + BOUND
    while (answer := put(client, token, "k", "same", category="owners")).status_code != status:
        assert time.monotonic() < deadline, f"still {answer.status_code} after {BOUND}s, not {status}"
        time.sleep(0.01)


def _token_of(owner) -> str:
    """A write token of ``owner``, who may edit development while it is made (as making one requires)."""
    owner.user_permissions.add(_edit_development())
    return make_token(User.objects.get(pk=owner.pk), "development", write=True)


def test_a_write_takes_the_owner_from_memory(following, client, owner):
    token = _token_of(owner)
    _answers(client, token, 200)
    with CaptureQueriesContext(connection) as captured:
        assert put(client, token, "k", "remembered", category="owners").status_code == 200
    asked = [q["sql"] for q in captured.captured_queries]
    owner_queries = ("users", "auth_permission", "config_user_with_permissions")
    assert not [sql for sql in asked if any(name in sql for name in owner_queries)], asked
    user = runtime.owner_grant(owner.pk)
    assert user.permissions == {"configurations.edit_development"} and user.is_staff and not user.is_superuser


def test_a_permission_taken_away_on_any_path_is_refused_at_once(following, client, owner):
    token = _token_of(owner)
    group = Group.objects.create(name="development editors")
    _answers(client, token, 200)
    owner.user_permissions.remove(_edit_development())  # the owner's own permission
    _answers(client, token, 403)
    group.permissions.add(_edit_development())
    owner.groups.add(group)
    _answers(client, token, 200)
    group.permissions.remove(_edit_development())  # the group's permission
    _answers(client, token, 403)
    group.permissions.add(_edit_development())
    _answers(client, token, 200)
    owner.groups.remove(group)  # the group left
    _answers(client, token, 403)
    owner.groups.add(group)
    _answers(client, token, 200)
    User.objects.filter(pk=owner.pk).update(is_staff=False)  # the owner's row
    _answers(client, token, 403)
    User.objects.filter(pk=owner.pk).update(is_staff=True)
    _answers(client, token, 200)
    _edit_development().delete()  # the permission itself
    _answers(client, token, 403)
