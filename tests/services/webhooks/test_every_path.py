"""Every write path emits exactly one outbox event per history row it writes (the review matrix's paths, with no
review policy, so that each writes live), and nothing else."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from configurations import services
from configurations.models import ConfigurationEvent, ConfigurationHistory
from tests.factories import editor_of
from tests.security.test_review_matrix import ADMIN_PATHS, COMMANDS, ENV, _call

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("subscribed")]


@pytest.fixture
def world():
    for environment in (ENV, "staging"):
        services.set_value(category="smtp", key="host", environment=environment, value=f"smtp.{environment}.example")
        services.set_value(category="smtp", key="port", environment=environment, value="587")
    services.set_value(category="smtp", key="host", environment=ENV, value="smtp.second.example")
    user = editor_of(username="prod-editor")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="configurations"))
    return type(user).objects.get(pk=user.pk)


class _Marks:
    def __init__(self):
        self.history = ConfigurationHistory.objects.order_by("-id").values_list("id", flat=True).first() or 0
        self.event = ConfigurationEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def check(self) -> int:
        written = sorted(ConfigurationHistory.objects.filter(id__gt=self.history).values_list("id", flat=True))
        events = ConfigurationEvent.objects.filter(id__gt=self.event, event_type__startswith="configuration.")
        assert written, "the path wrote nothing"
        assert sorted(events.values_list("history_id", flat=True)) == written
        return len(written)


def _api_put(client):
    owner = get_user_model().objects.get(username="prod-editor")
    token = services.tokens.create_token(name="outbox", owner=owner, environments=[ENV], write=True)
    url = reverse("api:key", args=[ENV, "smtp", "port"])
    return client.put(url, json.dumps({"value": 2527}), content_type="application/json",
                      HTTP_AUTHORIZATION=f"Bearer {token.plaintext}"), None  # fmt: skip


PATHS = [path for path in ADMIN_PATHS if path.__name__ != "_api_put"] + [_api_put]


class _Confirming:
    """The test client, ticking "Yes, change production" on every form it posts."""

    def __init__(self, client):
        self._client = client

    def post(self, url, data=None, **extra):
        return self._client.post(url, {**(data or {}), "confirm_production": "yes"}, **extra)

    def __getattr__(self, name):
        return getattr(self._client, name)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.__name__.strip("_"))
def test_each_admin_and_api_path_emits_one_event_per_change(client, world, path):
    client.force_login(world)
    marks = _Marks()
    response, _ = path(_Confirming(client))
    assert response.status_code in (200, 302), response.content[:500]
    assert marks.check() >= 1


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_emits_one_event_per_change(world, name, tmp_path):
    marks = _Marks()
    _call(*COMMANDS[name](tmp_path), "--actor", world.username)
    assert marks.check() >= 1
