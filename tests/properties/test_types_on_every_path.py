"""Values keep their types (issue 14, part 1): metadata declares a key's type, every path stores it."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from configurations import mail, runtime, services
from configurations.models import (
    ConfigurationHistory,
    ConfigurationMetadata,
    ConfigurationTemplate,
    SystemConfiguration,
)
from tests.smtp_server import PASSWORD, USER, SmtpServer

pytestmark = pytest.mark.django_db


def editor_post(client, environment="test", **values):
    url = reverse("admin:configurations_category_edit", args=["smtp", environment])
    version = client.get(url).context["form"]["version"].value()
    data = {"version": version, "reason": "types", "value__host": "smtp.example.com", "value__port": "587",
            "value__secure": "false", **{f"value__{k}": v for k, v in values.items()}}  # fmt: skip
    return client.post(url, data)


def test_the_shipped_metadata_declares_types():
    types = dict(ConfigurationMetadata.objects.filter(category="smtp").values_list("config_key", "value_type"))
    assert types == {"host": "string", "port": "number", "secure": "boolean", "auth_user": "string",
                     "auth_pass": "string", "from_email": "string"}  # fmt: skip


def test_secure_false_saved_in_the_editor_reads_back_as_false(admin_client):
    assert editor_post(admin_client).status_code == 302
    runtime.reload("test")
    assert runtime.get("smtp", "secure", environment="test") is False
    assert runtime.get("smtp", "port", environment="test") == 587
    assert SystemConfiguration.objects.get(config_key="secure", environment="test").value_type == "boolean"


def test_a_write_naming_another_type_is_refused_on_every_path(admin_client, tmp_path):
    with pytest.raises(ValidationError, match=r"smtp.port \[test\]: is a number key; it cannot be stored as string"):
        services.set_value(category="smtp", key="port", environment="test", value="587", value_type="string")
    add = reverse("admin:configurations_systemconfiguration_add")
    response = admin_client.post(add, {"category": "smtp", "config_key": "port", "environment": "test",
                                       "config_value": "587", "value_type": "string", "is_active": "on",
                                       "change_reason": "x"})  # fmt: skip
    assert response.status_code == 200 and "is a number key" in response.content.decode()
    source = tmp_path / "long.json"
    source.write_text(json.dumps({"test": {"smtp": {"port": {"value": "587", "value_type": "string"}}}}))
    with pytest.raises(Exception, match="is a number key"):
        call_command("import_configs", str(source), stdout=StringIO())
    assert not SystemConfiguration.objects.filter(config_key="port").exists()
    # Naming the key's own type, or none, is fine.
    services.set_value(category="smtp", key="port", environment="test", value="587", value_type="number")
    assert services.get_value(category="smtp", key="port", environment="test") == 587


def test_a_fraction_is_refused_for_the_port_and_the_widget_steps_by_one(admin_client):
    with pytest.raises(ValidationError, match="must be a whole number"):
        services.set_value(category="smtp", key="port", environment="test", value="587.5")
    response = editor_post(admin_client, port="587.5")
    assert response.status_code == 200 and "must be a whole number" in str(response.context["form"].errors)
    assert 'step="1"' in response.content.decode()


def test_import_keeps_the_types_of_json_and_yaml_scalars(tmp_path):
    source = tmp_path / "features.yaml"
    source.write_text("test:\n  features:\n    beta_banner: true\n    max_upload_mb: 25\n    ratio: 0.5\n"
                      "    name: demo\n    limits: {a: 1}\n  smtp:\n    secure: true\n    port: 587\n")  # fmt: skip
    out = StringIO()
    call_command("import_configs", str(source), "--dry-run", stdout=out)
    assert "features.beta_banner [test] = true (boolean)" in out.getvalue()
    assert "features.max_upload_mb [test] = 25 (number)" in out.getvalue()
    call_command("import_configs", str(source), stdout=StringIO())
    get = lambda key, category="features": services.get_value(category=category, key=key, environment="test")  # noqa: E731
    assert (get("beta_banner"), get("max_upload_mb"), get("name"), get("limits")) == (True, 25, "demo", {"a": 1})
    assert str(get("ratio")) == "0.5" and get("secure", "smtp") is True and get("port", "smtp") == 587


def test_env_values_are_strings_unless_metadata_says_otherwise(tmp_path):
    source = tmp_path / "app.env"
    source.write_text("SMTP_PORT=2525\nSMTP_SECURE=false\n")
    call_command("import_configs", str(source), "--environment", "test", stdout=StringIO())
    assert services.get_value(category="smtp", key="port", environment="test") == 2525
    assert services.get_value(category="smtp", key="secure", environment="test") is False


def test_templates_store_the_metadata_types():
    variables = {"EMAIL_USER": "team@gmail.com", "EMAIL_PASS": "abcd efgh ijkl mnop"}
    services.apply_template(provider="gmail", category="smtp", environment="test", variables=variables)
    rows = {r.config_key: r.value_type for r in SystemConfiguration.objects.filter(environment="test")}
    assert rows["port"] == "number" and rows["secure"] == "boolean" and rows["host"] == "string"


def test_every_shipped_template_asks_for_an_optional_from_email():
    for template in ConfigurationTemplate.objects.filter(category="smtp"):
        variables = {v["name"]: v for v in template.template_data["variables"]}
        assert variables["FROM_EMAIL"]["required"] is False, template.provider_name
        assert template.template_data["configs"]["from_email"] == "{{FROM_EMAIL}}"


def test_a_relay_without_authentication_can_be_configured():
    for key, value in {"host": "relay.local", "port": "25", "secure": "false", "auth_user": ""}.items():
        services.set_value(category="smtp", key=key, environment="test", value=value)
    runtime.reload("test")
    found = mail.smtp_settings("test")
    assert (found.username, found.password, found.use_tls) == ("", "", False)


def test_the_test_email_is_sent_from_the_configured_sender(tmp_path, settings, admin_user):
    runtime.reset()
    with SmtpServer(tmp_path) as server:
        settings.CONFIG_SMTP_CA_FILE = str(server.cert_file)
        values = {"host": "127.0.0.1", "port": str(server.port), "secure": "true", "auth_user": USER,
                  "auth_pass": PASSWORD, "from_email": "verified@example.com"}  # fmt: skip
        for key, value in values.items():
            services.set_value(category="smtp", key=key, environment="staging", value=value)
        attempt = services.send_test_email(environment="staging", recipient="ops@example.com", actor=admin_user)
        assert attempt.succeeded, attempt.result
        [envelope] = server.inbox.messages
        assert envelope.mail_from == "verified@example.com"
        services.set_value(category="smtp", key="from_email", environment="staging", value="")
        assert services.send_test_email(environment="staging", recipient="ops@example.com", actor=admin_user).succeeded
        assert server.inbox.messages[-1].mail_from == settings.DEFAULT_FROM_EMAIL
    runtime.reset()


def test_the_rule_engine_knows_integer():
    from configurations.core.validation import check_rules, problems

    assert check_rules({"integer": "yes"}) == ["'integer' must be true or false"]
    assert [p.rule for p in problems("5.5", {"integer": True}, numeric=True)] == ["integer"]
    assert problems("5", {"integer": True}, numeric=True) == []


def test_migration_0011_converts_rows_whose_type_disagrees():
    """The data migration gives rows their metadata's type (and, through the trigger, a history row)."""
    import importlib

    from django.apps import apps

    port = SystemConfiguration.objects.create(
        category="smtp", config_key="port", environment="test", config_value=" 2525 ", value_type="string"
    )
    secure = SystemConfiguration.objects.create(
        category="smtp", config_key="secure", environment="test", config_value="TRUE", value_type="string"
    )
    odd = SystemConfiguration.objects.create(
        category="smtp", config_key="port", environment="staging", config_value="not a port", value_type="string"
    )
    migration = importlib.import_module("configurations.migrations.0011_metadata_value_types")
    migration._convert_rows(apps.get_model("configurations", "ConfigurationMetadata"), SystemConfiguration)
    for row in (port, secure, odd):
        row.refresh_from_db()
    assert (port.value_type, port.config_value) == ("number", "2525")
    assert (secure.value_type, secure.config_value) == ("boolean", "true")
    assert (odd.value_type, odd.config_value) == ("string", "not a port")  # does not convert: left alone
    conversion = ConfigurationHistory.objects.filter(config_id=port.pk, action="update").get()
    assert (conversion.old_value_type, conversion.new_value_type) == ("string", "number")
