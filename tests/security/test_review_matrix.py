"""The review matrix: with production protected, every write path changes no live value there.

A user who may edit production (and holds every model permission) tries each path. The admin and the API open a
change request holding what the write would have made; the commands and the services refuse, naming the policy,
unless asked to open a request (``--change-request``). In every case production's rows and history are exactly
as before. ``rotate_encryption_keys`` re-encrypts in place and is the one path the review does not gate.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse

from configurations import services
from configurations.core import crypto
from configurations.models import (
    ApiToken,
    ChangeRequest,
    ConfigurationHistory,
    ConfigurationTemplate,
    SystemConfiguration,
)
from tests.factories import editor_of

pytestmark = pytest.mark.django_db
ENV = "production"


@pytest.fixture
def world(admin_user):
    for environment in (ENV, "staging"):
        services.set_value(category="smtp", key="host", environment=environment, value=f"smtp.{environment}.example")
        services.set_value(category="smtp", key="port", environment=environment, value="587")
    services.set_value(category="smtp", key="host", environment=ENV, value="smtp.second.example")
    services.set_policy(ENV, approvals=2, actor=admin_user)
    user = editor_of(username="prod-editor")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="configurations"))
    user.user_permissions.remove(Permission.objects.get(codename=f"bypass_review_{ENV}"))
    return type(user).objects.get(pk=user.pk)


def _production():
    rows = SystemConfiguration.objects.filter(environment=ENV).order_by("id")
    history = ConfigurationHistory.objects.filter(environment=ENV).count()
    return [(r.id, r.config_value, r.is_active) for r in rows], history


def _row(key="port"):
    return SystemConfiguration.objects.get(category="smtp", config_key=key, environment=ENV)


def _editor(client):
    url = reverse("admin:configurations_category_edit", args=["smtp", ENV])
    version = client.get(url).context["form"]["version"].value()
    data = {"version": version, "reason": "x", "value__port": "2525", "value__host": "smtp.mine.example"}
    return client.post(url, data), {("smtp", "host"), ("smtp", "port")}


def _copy(client):
    url = reverse("admin:configurations_category_compare", args=["smtp"]) + f"?left=staging&right={ENV}"
    data = {"target": ENV, "keys": ["host"], "reason": "x", "confirm": "yes"}
    return client.post(url, data), {("smtp", "host")}


def _template(client):
    gmail = ConfigurationTemplate.objects.get(provider_name="gmail")
    url = reverse("admin:configurations_configurationtemplate_changelist")
    common = {"action": "apply_to_environment", ACTION_CHECKBOX_NAME: [gmail.pk]}
    variables = {"var__EMAIL_USER": "a@gmail.com", "var__EMAIL_PASS": "abcd efgh ijkl mnop"}
    preview = client.post(url, {**common, "post": "preview", "environment": ENV, "reason": "r", **variables})
    response = client.post(url, {**common, "post": "yes", "token": preview.context["token"]})
    return response, {("smtp", key) for key in ("host", "secure", "auth_user", "auth_pass")}


def _rollback(client):
    entry = ConfigurationHistory.objects.filter(environment=ENV, config_key="host").order_by("id").first()
    url = reverse("admin:configurations_history_rollback", args=[entry.pk])
    return client.post(url, {"reason": "x"}), {("smtp", "host")}


def _plain_add(client):
    url = reverse("admin:configurations_systemconfiguration_add")
    data = {"category": "smtp", "config_key": "new_key", "environment": ENV, "config_value": "v",
            "value_type": "string", "is_active": "on", "change_reason": "x"}  # fmt: skip
    return client.post(url, data), {("smtp", "new_key")}


def _plain_change(client):
    url = reverse("admin:configurations_systemconfiguration_change", args=[_row().pk])
    data = {"config_value": "2526", "value_type": "number", "is_active": "on", "change_reason": "x"}
    return client.post(url, data), {("smtp", "port")}


def _plain_delete(client):
    url = reverse("admin:configurations_systemconfiguration_delete", args=[_row().pk])
    return client.post(url, {"post": "yes", "reason": "x"}), {("smtp", "port")}


def _bulk_delete(client):
    changelist = reverse("admin:configurations_systemconfiguration_changelist")
    data = {"action": "delete_with_reason", ACTION_CHECKBOX_NAME: [_row().pk, _row("host").pk], "post": "yes",
            "reason": "x"}  # fmt: skip
    return client.post(changelist, data), {("smtp", "port"), ("smtp", "host")}


def _api_put(client):
    owner = ApiToken.owner.field.related_model.objects.get(username="prod-editor")
    token = services.tokens.create_token(name="matrix", owner=owner, environments=[ENV], write=True)
    url = reverse("api:key", args=[ENV, "smtp", "port"])
    response = client.put(url, json.dumps({"value": 2527}), content_type="application/json",
                          HTTP_AUTHORIZATION=f"Bearer {token.plaintext}")  # fmt: skip
    assert response.status_code == 202 and response["Location"].endswith(f"/{ChangeRequest.objects.get().pk}/")
    return response, {("smtp", "port")}


ADMIN_PATHS = [_editor, _copy, _template, _rollback, _plain_add, _plain_change, _plain_delete, _bulk_delete, _api_put]


@pytest.mark.parametrize("path", ADMIN_PATHS, ids=lambda p: p.__name__.strip("_"))
def test_the_admin_and_the_api_open_a_change_request_and_change_nothing_live(client, world, path):
    client.force_login(world)
    before = _production()
    response, keys = path(client)
    assert response.status_code in (202, 302), response.content[:500]
    assert _production() == before
    request = ChangeRequest.objects.get()
    assert (request.environment, request.author, request.state) == (ENV, world, "in_review")
    assert set(request.items.values_list("category", "config_key")) == keys


def _call(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def _import_file(tmp_path):
    path = tmp_path / "in.json"
    path.write_text(json.dumps({ENV: {"smtp": {"port": 2528}}, "staging": {"smtp": {"port": 2528}}}))
    return str(path)


def _first_host_entry():
    return str(ConfigurationHistory.objects.filter(environment=ENV, config_key="host").order_by("id").first().pk)


COMMANDS = {
    "import_configs": lambda tmp: ["import_configs", _import_file(tmp)],
    "apply_template": lambda tmp: [
        "apply_template",
        "gmail",
        "--environment",
        ENV,
        "--var",
        "EMAIL_USER=a@gmail.com",
        "--var",
        "EMAIL_PASS=abcd efgh ijkl mnop",
    ],
    "rollback_config": lambda tmp: ["rollback_config", _first_host_entry(), "--reason", "x"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_a_command_refuses_naming_the_policy_and_opens_a_request_when_asked(world, name, tmp_path):
    before, staging = _production(), ConfigurationHistory.objects.filter(environment="staging").count()
    with pytest.raises(CommandError, match=r"production needs 2 approvals.*--change-request"):
        _call(*COMMANDS[name](tmp_path), "--actor", world.username)
    assert _production() == before
    assert ConfigurationHistory.objects.filter(environment="staging").count() == staging  # all or nothing
    out = _call(*COMMANDS[name](tmp_path), "--actor", world.username, "--change-request", "--title", "by command")
    assert _production() == before
    request = ChangeRequest.objects.get(environment=ENV)
    assert f"Opened change request #{request.pk} for production" in out
    assert (request.title, request.author, request.state) == ("by command", world, "in_review")


def test_a_command_bypasses_only_with_the_permission_and_a_reason(world, tmp_path, history):
    with pytest.raises(CommandError, match="production needs 2 approvals"):
        _call("rollback_config", _first_host_entry(), "--reason", "x", "--actor", world.username, "--bypass-review")
    world.user_permissions.add(Permission.objects.get(codename=f"bypass_review_{ENV}"))
    history.mark()
    _call("rollback_config", _first_host_entry(), "--reason", "outage", "--actor", world.username, "--bypass-review")
    [entry] = history.rows()
    assert entry.change_reason == "[review bypassed] outage" and _row("host").config_value == "smtp.production.example"


SERVICE_WRITES = {
    "set_value": lambda: services.set_value(category="smtp", key="port", environment=ENV, value="1"),
    "apply_changes": lambda: services.apply_changes([services.Change("smtp", "port", ENV, "1")]),
    "deactivate": lambda: services.deactivate(category="smtp", key="port", environment=ENV),
    "delete_configurations": lambda: services.delete_configurations([_row().pk], reason="x"),
    "copy_values": lambda: services.copy_values(category="smtp", keys=["host"], source="staging", target=ENV),
    "apply_template": lambda: services.apply_template(
        provider="gmail",
        category="smtp",
        environment=ENV,
        variables={"EMAIL_USER": "a@gmail.com", "EMAIL_PASS": "abcd efgh ijkl mnop"},
    ),
    "rollback": lambda: services.rollback(history_id=int(_first_host_entry())),
}


@pytest.mark.parametrize("name", SERVICE_WRITES)
def test_every_service_write_refuses_naming_the_policy(world, name):
    before = _production()
    with pytest.raises(services.ReviewRequired, match="production needs 2 approvals"):
        SERVICE_WRITES[name]()
    assert _production() == before and not ChangeRequest.objects.exists()


def test_key_rotation_is_not_a_change_of_value_and_is_not_gated(world, settings):
    services.set_value(category="smtp", key="auth_pass", environment="staging", value="rotating-secret")
    services.set_policy("staging", approvals=1)
    settings.CONFIG_ENCRYPTION_KEYS = f"{crypto.new_key_entry('fresh')},{settings.CONFIG_ENCRYPTION_KEYS}"
    report = services.rotate_encryption_keys()
    assert report.rotated == 1 and report.failed == []
    assert services.get_value(category="smtp", key="auth_pass", environment="staging") == "rotating-secret"
    assert not ChangeRequest.objects.exists()
