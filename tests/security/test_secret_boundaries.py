"""Secrets and environment boundaries, tried as an attacker with a staff account would (issue 11, items 1-7)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.urls import reverse

from configurations import runtime, services
from configurations.core import dotenv, formats
from configurations.core.secrecy import Secret
from configurations.data import bulk
from configurations.models import (
    ConfigurationHistory,
    ConfigurationMetadata,
    ConfigurationTemplate,
    SentTestEmail,
    SystemConfiguration,
)
from configurations.runtime import persistence
from tests.factories import ConfigurationFactory, TemplateFactory, UserFactory, editor_of, legacy_plaintext_secret

pytestmark = pytest.mark.django_db

PROD_PASS = "prod-pass-Zq81"
PROD_USER = "prod-user@example.com"


@pytest.fixture
def production_smtp(db):
    for key, value in {"host": "smtp.prod.example.com", "port": "587", "auth_user": PROD_USER}.items():
        services.set_value(category="smtp", key=key, environment="production", value=value)
    services.set_value(category="smtp", key="auth_pass", environment="production", value=PROD_PASS)
    services.set_value(category="smtp", key="host", environment="development", value="smtp.dev.example.com")


def compare_url(left="production", right="development") -> str:
    return reverse("admin:configurations_category_compare", args=["smtp"]) + f"?left={left}&right={right}"


# ------------------------------------------------------------ 1. secrets move only with edit rights


def test_a_development_editor_cannot_copy_production_secrets(client, developer_user, production_smtp, history):
    history.mark()
    response = client.post(
        compare_url(), {"target": "development", "keys": ["auth_pass", "auth_user"], "reason": "sync"}, follow=True
    )
    html = response.content.decode()
    assert "Nothing was copied: auth_pass is a secret of production" in html
    assert history.rows() == []  # all or nothing: not even auth_user was copied
    assert not SystemConfiguration.objects.filter(environment="development", config_key__startswith="auth").exists()
    ok = client.post(compare_url(), {"target": "development", "keys": ["auth_user", "port"], "reason": "sync"})
    assert ok.status_code == 302
    assert services.get_value(category="smtp", key="auth_user", environment="development") == PROD_USER


def test_the_copy_service_holds_the_rule_for_any_caller(developer_user, production_smtp):
    with pytest.raises(PermissionDenied, match="auth_pass"):
        services.copy_values(category="smtp", keys=["auth_pass"], source="production", target="development",
                             actor=developer_user)  # fmt: skip
    editor = editor_of("development", "production", username="both")
    services.copy_values(category="smtp", keys=["auth_pass"], source="production", target="development", actor=editor)
    assert services.get_value(category="smtp", key="auth_pass", environment="development") == PROD_PASS


def test_test_email_of_another_environment_is_refused_in_the_service(developer_user, production_smtp):
    with pytest.raises(PermissionDenied):
        services.send_test_email(environment="production", recipient="me@example.com", actor=developer_user)
    assert not SentTestEmail.objects.exists()


def test_commands_act_with_their_actors_permissions(developer_user, production_smtp, tmp_path, history):
    source = tmp_path / "prod.json"
    source.write_text(json.dumps({"production": {"smtp": {"port": 2525}}, "development": {"smtp": {"port": 2525}}}))
    history.mark()
    with pytest.raises(CommandError, match=r"may not import into the production environment.*Nothing was changed"):
        call_command("import_configs", str(source), "--actor", "dev-only", stdout=StringIO())
    with pytest.raises(CommandError, match="production"):
        call_command("import_configs", str(source), "--actor", "dev-only", "--dry-run", stdout=StringIO())
    with pytest.raises(CommandError, match="may not export the secrets of the production environment"):
        call_command("export_configs", "--include-secrets", "--actor", "dev-only", stdout=StringIO())
    entry = ConfigurationHistory.objects.filter(environment="production", config_key="port").first()
    with pytest.raises(CommandError, match="production"):
        call_command("rollback_config", str(entry.pk), "--reason", "x", "--actor", "dev-only", stdout=StringIO())
    with pytest.raises(CommandError, match="production"):
        call_command("apply_template", "gmail", "--environment", "production", "--var", "EMAIL_USER=a@gmail.com",
                     "--var", "EMAIL_PASS=abcd efgh ijkl mnop", "--actor", "dev-only", stdout=StringIO())  # fmt: skip
    with pytest.raises(CommandError, match="re-encrypt"):
        call_command("rotate_encryption_keys", "--actor", "dev-only", stdout=StringIO())
    assert history.rows() == []
    out = StringIO()
    call_command("export_configs", "--actor", "dev-only", "--environment", "production", stdout=out)  # masked: fine
    assert PROD_PASS not in out.getvalue()


# ------------------------------------------------------------------- 2. no silent plaintext secrets


def test_importing_a_secret_in_the_clear_is_refused_and_the_dry_run_shows_no_secret(tmp_path, history):
    source = tmp_path / "payments.json"
    source.write_text(
        json.dumps({"production": {"payments": {"api_key": {"value": "sk_live_9f", "is_encrypted": False}}}})
    )
    history.mark()
    with pytest.raises(CommandError, match=r"payments\.api_key \[production\]: is a secret \(its name marks it"):
        call_command("import_configs", str(source), stdout=StringIO())
    assert history.rows() == [] and not SystemConfiguration.objects.filter(category="payments").exists()
    source.write_text(json.dumps({"production": {"payments": {"api_key": "sk_live_9f"}}}))
    out = StringIO()
    call_command("import_configs", str(source), "--dry-run", stdout=out)
    assert "sk_live_9f" not in out.getvalue() and "••••••••" in out.getvalue()
    call_command("import_configs", str(source), stdout=StringIO())
    row = SystemConfiguration.objects.get(category="payments", config_key="api_key")
    assert row.is_encrypted and "sk_live_9f" not in row.config_value


@pytest.mark.parametrize(
    ("category", "key", "why"),
    [("smtp", "auth_pass", "input type is password"), ("payments", "API_KEY", "name marks it"),
     ("oauth", "client_secret", "name marks it")],
)  # fmt: skip
def test_set_value_refuses_a_secret_in_the_clear(category, key, why):
    with pytest.raises(ValidationError, match=why):
        services.set_value(category=category, key=key, environment="test", value="hunter2-xy", is_encrypted=False)
    assert not SystemConfiguration.objects.filter(category=category).exists()
    row = services.set_value(category=category, key=key, environment="test", value="hunter2-xy")
    assert row.is_encrypted


def test_decrypting_a_secret_in_place_is_refused(history):
    services.set_value(category="api", key="endpoint_sig", environment="test", value="abc", is_encrypted=True)
    history.mark()
    with pytest.raises(ValidationError, match="its stored value is encrypted"):
        services.set_value(category="api", key="endpoint_sig", environment="test", value="abc", is_encrypted=False)
    assert SystemConfiguration.objects.get(config_key="endpoint_sig").is_encrypted and history.rows() == []


def test_secret_key_patterns_come_from_the_setting(settings):
    settings.CONFIG_SECRET_KEY_PATTERNS = ["pin"]
    assert services.set_value(category="bank", key="card_pin", environment="test", value="1234").is_encrypted
    assert not services.set_value(category="bank", key="api_token", environment="test", value="abc").is_encrypted


def test_the_plain_admin_masks_a_legacy_plaintext_secret(admin_client):
    legacy_plaintext_secret(
        category="payments", config_key="api_key", config_value="sk_live_legacy", environment="test"
    )
    html = admin_client.get(reverse("admin:configurations_systemconfiguration_changelist")).content.decode()
    assert "sk_live_legacy" not in html and "••••••••" in html


# ------------------------------------------------------------------------------- 3. template secrets


@pytest.fixture
def payments_template(db):
    return TemplateFactory(
        provider_name="acme-pay", category="payments",
        template_data={
            "configs": {"endpoint": "https://pay.example.com", "api_key": "{{API_KEY}}", "label": "{{LABEL}}"},
            "variables": [{"name": "API_KEY", "required": True}, {"name": "LABEL", "secret": True}],
        },
    )  # fmt: skip


def _action(client, template, **data):
    url = reverse("admin:configurations_configurationtemplate_changelist")
    return client.post(url, {"action": "apply_to_environment", ACTION_CHECKBOX_NAME: [template.pk], **data})


def test_template_variables_feeding_secrets_never_reach_a_page_or_the_session(admin_client, payments_template):
    html = _action(admin_client, payments_template, index="0").content.decode()
    assert '<input type="password" name="var__API_KEY"' in html and '<input type="password" name="var__LABEL"' in html
    values = {"var__API_KEY": "sk_tmpl_77", "var__LABEL": "hidden-label-55"}
    preview = _action(admin_client, payments_template, post="preview", environment="test", reason="r", **values)
    assert preview.status_code == 200
    stored = " ".join(str(s.get_decoded()) for s in Session.objects.all())
    assert "sk_tmpl_77" not in stored and "hidden-label-55" not in stored
    back = _action(admin_client, payments_template, post="back", token=preview.context["token"]).content.decode()
    assert "sk_tmpl_77" not in back and "hidden-label-55" not in back
    done = _action(admin_client, payments_template, post="yes", token=preview.context["token"])
    assert done.status_code == 302
    rows = {r.config_key: r for r in SystemConfiguration.objects.filter(category="payments")}
    assert rows["api_key"].is_encrypted and rows["label"].is_encrypted and not rows["endpoint"].is_encrypted
    assert services.get_value(category="payments", key="label", environment="test") == "hidden-label-55"


def test_a_variable_feeding_a_key_encrypted_elsewhere_is_secret(payments_template):
    data = {"configs": {"merchant": "{{MERCHANT}}"}, "variables": [{"name": "MERCHANT"}]}
    template = TemplateFactory(provider_name="acme-2", category="payments", template_data=data)
    assert services.secret_variables(template) == set()
    services.set_value(category="payments", key="merchant", environment="staging", value="m-1", is_encrypted=True)
    assert services.secret_variables(template) == {"MERCHANT"}
    assert services.secret_variables(payments_template) == {"API_KEY", "LABEL"}


def test_template_secret_flag_must_be_a_boolean():
    with pytest.raises(ValidationError, match="'secret' must be true or false"):
        TemplateFactory(template_data={"configs": {"a": "{{A}}"}, "variables": [{"name": "A", "secret": "yes"}]})


# -------------------------------------------------------------------- 4. envelopes and equality oracles


def test_a_view_only_user_never_sees_an_envelope(client, production_smtp):
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_systemconfiguration"))
    client.force_login(viewer)
    row = SystemConfiguration.objects.get(environment="production", config_key="auth_pass")
    html = client.get(reverse("admin:configurations_systemconfiguration_change", args=[row.pk])).content.decode()
    assert "encrypted:AES256" not in html and row.config_value.split(":")[-1] not in html
    assert "••••••••" in html


def test_same_or_different_of_a_secret_only_for_editors_of_both_sides(client, developer_user, production_smtp):
    services.set_value(category="smtp", key="auth_pass", environment="development", value="my-guess")
    rows = {r["key"]: r for r in client.get(compare_url()).context["rows"]}
    assert rows["auth_pass"]["status"] == "not compared"
    assert (rows["auth_pass"]["left_shown"], rows["auth_pass"]["right_shown"]) == ("set", "set")
    assert rows["port"]["status"] == "different"  # plain values still compare
    client.force_login(editor_of("development", "production", username="both"))
    rows = {r["key"]: r for r in client.get(compare_url()).context["rows"]}
    assert rows["auth_pass"]["status"] == "different"


# ----------------------------------------------------- 5. the rules of every environment need every right


def test_metadata_and_templates_need_every_environment(client, developer_user):
    meta = ConfigurationMetadata.objects.get(category="smtp", config_key="port")
    rules = meta.validation_rules
    change = reverse("admin:configurations_configurationmetadata_change", args=[meta.pk])
    page = client.get(change)
    assert page.status_code == 200 and "needs the edit permission of every environment" in page.content.decode()
    data = {"category": "smtp", "config_key": "port", "display_name": "Port", "input_type": "number",
            "validation_rules": "{}", "sort_order": "2", "is_required": "on"}  # fmt: skip
    assert client.post(change, data).status_code == 403
    add = reverse("admin:configurations_configurationmetadata_add")
    assert client.post(add, {**data, "config_key": "new_one"}).status_code == 403
    delete = reverse("admin:configurations_configurationmetadata_delete", args=[meta.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    meta.help_text = f"{meta.help_text or ''} (reviewed)"
    meta.save()  # a change, so a recorded version to revert to
    version = meta.history.first()
    revert = reverse("admin:configurations_configurationmetadata_simple_history", args=[meta.pk, version.history_id])
    assert client.post(revert, data).status_code == 403
    gmail = ConfigurationTemplate.objects.get(provider_name="gmail")
    template_change = reverse("admin:configurations_configurationtemplate_change", args=[gmail.pk])
    evil = {"provider_name": "gmail", "category": "smtp", "template_data": json.dumps({"configs": {"host": "evil"}})}
    assert client.post(template_change, evil).status_code == 403
    meta.refresh_from_db()
    gmail.refresh_from_db()
    assert meta.validation_rules == rules and gmail.template_data["configs"]["host"] == "smtp.gmail.com"
    client.force_login(editor_of(username="everywhere", is_superuser=True))
    assert client.post(change, {**data, "validation_rules": json.dumps(rules)}).status_code == 302


# ------------------------------------------------------------------- 6. secrets in tracebacks and files


def test_a_debug_error_page_never_shows_the_submitted_secret(admin_client, settings, monkeypatch):
    settings.DEBUG = True
    admin_client.raise_request_exception = False
    url = reverse("admin:configurations_category_edit", args=["smtp", "production"])
    form = admin_client.get(url).context["form"]

    def explode(rows, then=None):
        raise RuntimeError("injected failure while writing")

    monkeypatch.setattr(bulk, "insert", explode)
    submitted = {"version": form["version"].value(), "reason": "x", "value__host": "h.example.com",
                 "value__auth_pass": secrets.token_hex(12), "confirm_production": "yes"}  # fmt: skip
    response = admin_client.post(url, submitted)
    html = response.content.decode()
    assert response.status_code == 500 and "injected failure while writing" in html  # the technical page
    assert submitted["value__auth_pass"] not in html


def test_a_secret_shows_as_the_mask_in_any_repr():
    secret = Secret("hunter2")
    change = services.Change("smtp", "auth_pass", "test", secret)
    assert "hunter2" not in repr(change) and "hunter2" not in str(secret) and secret.reveal() == "hunter2"
    with pytest.raises(TypeError):
        json.dumps({"a": secret})


def test_export_file_is_private_from_the_start_and_not_overwritten(tmp_path, production_smtp, monkeypatch):
    target = tmp_path / "secrets.json"
    modes = []
    real_replace = os.replace

    def watching_replace(source, destination):
        modes.append(stat.S_IMODE(os.stat(source).st_mode))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", watching_replace)
    old_umask = os.umask(0o022)
    try:
        call_command("export_configs", "--include-secrets", "--output", str(target), stderr=StringIO())
    finally:
        os.umask(old_umask)
    assert modes == [0o600] and stat.S_IMODE(target.stat().st_mode) == 0o600
    with pytest.raises(CommandError, match="exists; give --force"):
        call_command("export_configs", "--output", str(target), stderr=StringIO())
    call_command("export_configs", "--output", str(target), "--force", stderr=StringIO())
    assert PROD_PASS not in target.read_text() and stat.S_IMODE(target.stat().st_mode) == 0o600


AWKWARD = ["$(touch {dir}/pwned)", "`touch {dir}/pwned2`", "it's \"quoted\"", "back\\slash\\n", "line one\nline two\n",
           "ünïcødé ✓", "$HOME ${PATH}", "a b # not a comment", "'", "\ttab", "ends with \\"]  # fmt: skip


def test_env_export_is_inert_in_a_shell_and_round_trips_exactly(tmp_path):
    values = [value.replace("{dir}", str(tmp_path)) for value in AWKWARD]
    for index, value in enumerate(values):
        services.set_value(category="shell", key=f"k{index}", environment="test", value=value)
    out = StringIO()
    call_command("export_configs", "--environment", "test", "--format", "env", stdout=out)
    env_file = tmp_path / "exported.env"
    env_file.write_text(out.getvalue())
    script = f"set -a; . '{env_file}'; exec {sys.executable} -c 'import json, os; print(json.dumps(dict(os.environ)))'"
    shell = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"}
    )
    sourced = json.loads(shell.stdout)
    assert not list(tmp_path.glob("pwned*")), "sourcing the export ran a command"
    assert [sourced[f"SHELL_K{index}"] for index in range(len(values))] == values
    parsed = dotenv.parse_env(env_file.read_text(), "exported.env", environment="test", known={})
    assert {r.key: r.value for r in parsed.records} == {f"k{i}": value for i, value in enumerate(values)}


def test_env_export_refuses_names_it_cannot_write_safely():
    # Such a name can no longer be stored (the naming rule and its CHECK constraint); the writer refuses it anyway.
    item = formats.ExportItem("test", "app", "bad\nKEY=1", "string", False, "x", "x")
    with pytest.raises(formats.InputError, match="cannot write safely"):
        formats.dump([item], "env")


def test_a_tampered_snapshot_file_is_refused_and_never_served(settings, tmp_path, production_smtp, caplog):
    settings.CONFIG_RUNTIME_SNAPSHOT_DIR = str(tmp_path)
    runtime.reload("production")
    saved = tmp_path / "configurations-production.json"
    assert persistence.load("production")
    document = json.loads(saved.read_text())
    sealed = bytearray(document["sealed"].encode())
    sealed[10] = ord("A") if sealed[10] != ord("A") else ord("B")
    saved.write_text(json.dumps({**document, "sealed": sealed.decode()}))
    with caplog.at_level(logging.ERROR, logger="configurations.runtime.persistence"):
        assert persistence.load("production") is None
    assert "Refusing the production configuration snapshot" in caplog.text
    (tmp_path / "configurations-staging.json").write_text(saved.read_text())  # another environment's file
    assert persistence.load("staging") is None


def test_cold_start_in_an_outage_refuses_a_forged_snapshot(settings, tmp_path, monkeypatch):
    settings.CONFIG_RUNTIME_SNAPSHOT_DIR = str(tmp_path)
    forged = {"format": 1, "environment": "production", "rows": [["smtp", "host", "evil.example", "string", False]]}
    (tmp_path / "configurations-production.json").write_text(json.dumps(forged))
    runtime.reset()

    def outage(*args, **kwargs):
        raise DatabaseError("database is down")

    monkeypatch.setattr(runtime, "reload", outage)
    with pytest.raises(DatabaseError):
        runtime.get("smtp", "host", environment="production")
    runtime.reset()


# -------------------------------------------------------------------- 7. history that cannot be confused


@pytest.mark.parametrize("value", ["encrypted:not-really", "[secret] just text"])
def test_a_plain_value_that_looks_like_a_marker_is_shown_and_can_be_rolled_back(admin_client, value):
    services.set_value(category="app", key="note", environment="test", value=value)
    services.set_value(category="app", key="note", environment="test", value="later")
    entry = ConfigurationHistory.objects.filter(config_key="note", action="create").get()
    assert (entry.new_value, entry.secret) == (value, False)
    html = admin_client.get(reverse("admin:configurations_history") + f"?config={entry.config_id}").content.decode()
    assert value.split(":")[0] in html and "secret set" not in html
    services.rollback(history_id=entry.pk, reason="back")
    assert services.get_value(category="app", key="note", environment="test") == value


def test_history_marks_secrets_by_the_rows_columns(production_smtp):
    entry = ConfigurationHistory.objects.get(environment="production", config_key="auth_pass")
    assert entry.is_secret and entry.new_is_encrypted and entry.new_value.startswith("[secret key=")
    with pytest.raises(ValidationError, match="is a secret"):
        services.rollback(history_id=entry.pk, reason="no")


def test_a_hard_delete_in_the_plain_admin_asks_for_a_reason(admin_client, history):
    row = ConfigurationFactory(config_value="bye")
    url = reverse("admin:configurations_systemconfiguration_delete", args=[row.pk])
    assert 'name="reason"' in admin_client.get(url).content.decode()
    history.mark()
    refused = admin_client.post(url, {"post": "yes"}, follow=True)
    assert "Give a reason for the deletion" in refused.content.decode()
    assert SystemConfiguration.objects.filter(pk=row.pk).exists() and history.rows() == []
    admin_client.post(url, {"post": "yes", "reason": "retired"})
    assert [(r.action, r.change_reason) for r in history.rows()] == [("delete", "retired")]


def test_bulk_delete_asks_for_a_reason_too(admin_client, history):
    rows = [ConfigurationFactory(), ConfigurationFactory()]
    changelist = reverse("admin:configurations_systemconfiguration_changelist")
    selected = {"action": "delete_with_reason", ACTION_CHECKBOX_NAME: [r.pk for r in rows]}
    assert 'name="reason"' in admin_client.post(changelist, selected).content.decode()
    history.mark()
    admin_client.post(changelist, {**selected, "post": "yes"})
    assert SystemConfiguration.objects.filter(pk__in=[r.pk for r in rows]).count() == 2
    admin_client.post(changelist, {**selected, "post": "yes", "reason": "cleanup"})
    assert {(r.action, r.change_reason) for r in history.rows()} == {("delete", "cleanup")}
    assert not SystemConfiguration.objects.filter(pk__in=[r.pk for r in rows]).exists()


def test_unticking_is_encrypted_cannot_decrypt_a_secret(admin_client, production_smtp):
    row = SystemConfiguration.objects.get(environment="production", config_key="auth_pass")
    url = reverse("admin:configurations_systemconfiguration_change", args=[row.pk])
    html = admin_client.get(url).content.decode()
    assert "A secret is always stored encrypted" in html
    admin_client.post(url, {"config_value": "", "value_type": "string", "is_active": "on", "change_reason": "x"})
    row.refresh_from_db()
    assert row.is_encrypted
