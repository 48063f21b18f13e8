"""The permission matrix: a staff user who may edit only development tries every write path on the others.

For each path the user holds every model permission of the app (view, add, change, delete of every table,
the template action) but only ``edit_development``. Whatever route they take, nothing outside development
changes, no history row is written there, and no secret of another environment reaches them.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import CommandError, call_command
from django.urls import reverse

from configurations import services
from configurations.models import (
    ConfigurationHistory,
    ConfigurationMetadata,
    ConfigurationTemplate,
    SystemConfiguration,
)
from tests.factories import editor_of

pytestmark = pytest.mark.django_db

SECRETS = {"production": "matrix-prod-pass-1", "staging": "matrix-stage-pass-2", "test": "matrix-test-pass-3"}


@pytest.fixture
def world(db):
    for environment, password in SECRETS.items():
        services.set_value(category="smtp", key="host", environment=environment, value=f"smtp.{environment}.example")
        services.set_value(category="smtp", key="port", environment=environment, value="587")
        services.set_value(category="smtp", key="auth_pass", environment=environment, value=password)
        services.set_value(category="payments", key="api_key", environment=environment, value=f"sk-{password}")
    services.set_value(category="smtp", key="host", environment="development", value="smtp.dev.example")
    return _state()


@pytest.fixture
def developer(client, developer_user):
    return client


def _state():
    rows = SystemConfiguration.objects.exclude(environment="development").order_by("id")
    history = ConfigurationHistory.objects.exclude(environment="development").count()
    rules = list(ConfigurationMetadata.objects.order_by("id").values_list("validation_rules", flat=True))
    templates = list(ConfigurationTemplate.objects.order_by("id").values_list("template_data", flat=True))
    return [(r.id, r.config_value, r.is_active, r.is_encrypted) for r in rows], history, rules, templates


def _row(environment="production", key="port"):
    return SystemConfiguration.objects.get(category="smtp", config_key=key, environment=environment)


def _edit_post(client, environment):
    url = reverse("admin:configurations_category_edit", args=["smtp", environment])
    version = client.get(url).context["form"]["version"].value()
    data = {"version": version, "reason": "x", "value__port": "2525", "value__auth_pass": "mine-long-1",
            "value__host": "smtp.mine.example"}  # fmt: skip
    return [client.post(url, data)]


def _plain_add(client, environment):
    url = reverse("admin:configurations_systemconfiguration_add")
    data = {"category": "smtp", "config_key": "new_key", "environment": environment, "config_value": "v",
            "value_type": "string", "is_active": "on", "change_reason": "x"}  # fmt: skip
    return [client.post(url, data)]


def _plain_change(client, environment):
    url = reverse("admin:configurations_systemconfiguration_change", args=[_row(environment).pk])
    return [client.get(url), client.post(url, {"config_value": "1", "value_type": "number", "change_reason": "x"})]


def _plain_delete(client, environment):
    url = reverse("admin:configurations_systemconfiguration_delete", args=[_row(environment).pk])
    return [client.post(url, {"post": "yes", "reason": "x"})]


def _bulk_delete(client, environment):
    changelist = reverse("admin:configurations_systemconfiguration_changelist")
    ids = [_row(environment).pk, _row("development", "host").pk]
    data = {"action": "delete_with_reason", ACTION_CHECKBOX_NAME: ids, "post": "yes", "reason": "x"}
    return [client.post(changelist, data)]


def _copy_to(client, environment):
    url = reverse("admin:configurations_category_compare", args=["smtp"]) + f"?left=development&right={environment}"
    return [client.post(url, {"target": environment, "keys": ["host"], "reason": "x"}, follow=True)]


def _copy_secret_from(client, environment):
    url = reverse("admin:configurations_category_compare", args=["smtp"]) + f"?left={environment}&right=development"
    return [
        client.get(url),
        client.post(url, {"target": "development", "keys": ["auth_pass"], "reason": "x"}, follow=True),
    ]


def _template(client, environment):
    gmail = ConfigurationTemplate.objects.get(provider_name="gmail")
    url = reverse("admin:configurations_configurationtemplate_changelist")
    variables = {"var__EMAIL_USER": "a@gmail.com", "var__EMAIL_PASS": "abcd efgh ijkl mnop"}
    data = {"action": "apply_to_environment", ACTION_CHECKBOX_NAME: [gmail.pk], "post": "preview",
            "environment": environment, **variables}  # fmt: skip
    return [client.post(url, data)]


def _rollback(client, environment):
    entry = ConfigurationHistory.objects.filter(environment=environment, config_key="port").first()
    url = reverse("admin:configurations_history_rollback", args=[entry.pk])
    return [client.get(url), client.post(url, {"reason": "x"})]


def _test_email(client, environment):
    url = reverse("admin:configurations_send_test_email", args=["smtp", environment])
    return [client.post(url, {"recipient": "attacker@example.com"})]


def _metadata(client, environment):
    meta = ConfigurationMetadata.objects.get(category="smtp", config_key="port")
    url = reverse("admin:configurations_configurationmetadata_change", args=[meta.pk])
    data = {"category": "smtp", "config_key": "port", "display_name": "Port", "input_type": "number",
            "validation_rules": "{}", "sort_order": "2"}  # fmt: skip
    return [client.post(url, data)]


def _template_edit(client, environment):
    gmail = ConfigurationTemplate.objects.get(provider_name="gmail")
    url = reverse("admin:configurations_configurationtemplate_change", args=[gmail.pk])
    data = {"provider_name": "gmail", "category": "smtp", "template_data": json.dumps({"configs": {"host": "evil"}})}
    return [client.post(url, data)]


def _import_command(client, environment, tmp_path):
    source = tmp_path / "in.json"
    source.write_text(json.dumps({environment: {"smtp": {"port": 2525}}}))
    with pytest.raises(CommandError):
        call_command("import_configs", str(source), "--actor", "dev-only", stdout=StringIO())
    return []


def _export_command(client, environment, tmp_path):
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("export_configs", "--environment", environment, "--include-secrets", "--actor", "dev-only",
                     stdout=out)  # fmt: skip
    call_command("export_configs", "--environment", environment, "--actor", "dev-only", stdout=out)
    return [out.getvalue()]


PATHS = [
    _edit_post, _plain_add, _plain_change, _plain_delete, _bulk_delete, _copy_to, _copy_secret_from, _template,
    _rollback, _test_email, _metadata, _template_edit,
]  # fmt: skip
COMMANDS = [_import_command, _export_command]


def _shown(responses) -> str:
    return " ".join(r if isinstance(r, str) else r.content.decode() for r in responses)


@pytest.mark.parametrize("environment", ["production", "staging", "test"])
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.__name__.strip("_"))
def test_a_development_editor_changes_nothing_elsewhere_by_any_admin_route(developer, world, path, environment):
    responses = path(developer, environment)
    assert _state() == world, f"{path.__name__} changed {environment}"
    shown = _shown(responses)
    for secret in SECRETS.values():
        assert secret not in shown
    assert all(getattr(r, "status_code", 200) != 500 for r in responses)


@pytest.mark.parametrize("environment", ["production", "staging"])
@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: p.__name__.strip("_"))
def test_commands_run_as_a_development_editor_change_and_reveal_nothing_elsewhere(world, path, environment, tmp_path):
    editor_of("development", username="dev-only")
    shown = _shown(path(None, environment, tmp_path))
    assert _state() == world
    for secret in SECRETS.values():
        assert secret not in shown


def test_the_same_routes_work_in_development(developer, world):
    """The matrix is not vacuous: the user really can write development through the editor."""
    response = _edit_post(developer, "development")[0]
    assert response.status_code == 302, response.context["form"].errors
    assert services.get_value(category="smtp", key="port", environment="development") == 2525
