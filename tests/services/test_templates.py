"""Provider templates: checked when saved, applied by the service, the command and the admin action."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from configurations import services
from configurations.core import crypto, templates_engine
from configurations.models import ConfigurationHistory, ConfigurationTemplate, SystemConfiguration
from tests.conftest import subprocess_env
from tests.factories import app_password

pytestmark = pytest.mark.django_db

GMAIL = {"EMAIL_USER": "team@gmail.com", "EMAIL_PASS": app_password()}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def smtp(environment="staging") -> dict:
    return {r.config_key: r for r in SystemConfiguration.objects.filter(category="smtp", environment=environment)}


# ----------------------------------------------------------------------------- checking


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"configs": {"host": "{{HOST}}"}, "variables": []}, "configs.host uses {{HOST}}, which is not a declared"),
        ({"configs": {"host": "x"}, "variables": [{"name": "UNUSED"}]}, "variable UNUSED is declared but never used"),
        (
            {"configs": {"host": "{{H}}"}, "variables": [{"name": "H", "validation": {"maxLenght": 3}}]},
            "variable H: validation: unknown rule 'maxLenght'",
        ),
        ({"configs": {"port": 587}}, "configs.port must be a string"),
        ({"configs": {}}, "'configs' must be a non-empty object"),
        ({"configs": {"a": "b"}, "instructions": "do this"}, "'instructions' must be a list of strings"),
        ({"configs": {"a": "{{X}}"}, "variables": [{"name": "X"}, {"name": "X"}]}, "variable X: declared twice"),
        ({"configs": {"a": "{{x}}"}, "variables": [{"name": "x"}]}, "'name' must be UPPER_CASE"),
        ({"configs": {"a": "b"}, "extra": 1}, "unknown top-level item 'extra'"),
        ("not an object", "must be a JSON object"),
    ],
)
def test_bad_template_data_is_named(data, message):
    errors = templates_engine.check(data, template="acme")
    assert any(message in e and e.startswith("acme: ") for e in errors), errors


def test_shipped_templates_are_valid_and_include_the_expected_providers():
    templates = ConfigurationTemplate.objects.filter(category="smtp")
    assert {"gmail", "sendgrid", "mailtrap", "amazon_ses", "mailgun", "postmark", "office365", "brevo"} <= {
        t.provider_name for t in templates
    }
    for template in templates:
        template.full_clean()


def test_saving_a_bad_template_is_refused():
    template = ConfigurationTemplate(
        provider_name="acme", category="smtp", template_data={"configs": {"host": "{{HOST}}"}, "variables": []}
    )
    with pytest.raises(ValidationError, match=r"template acme/smtp: configs.host uses \{\{HOST\}\}"):
        template.save()


def test_a_variable_filling_a_secret_and_a_plain_key_is_refused():
    data = {"configs": {"auth_user": "{{TOKEN}}", "auth_pass": "{{TOKEN}}"}, "variables": [{"name": "TOKEN"}]}
    with pytest.raises(ValidationError, match="fills the secret key auth_pass and the plain key auth_user"):
        ConfigurationTemplate(provider_name="acme", category="smtp", template_data=data).save()


def test_malformed_json_in_the_admin_form_is_an_error(admin_client):
    response = admin_client.post(
        reverse("admin:configurations_configurationtemplate_add"),
        {"provider_name": "acme", "category": "smtp", "template_data": "{not json", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "Enter a valid JSON." in str(response.context["adminform"].form.errors["template_data"])
    assert not ConfigurationTemplate.objects.filter(provider_name="acme").exists()


def test_admin_form_shows_template_errors(admin_client):
    response = admin_client.post(
        reverse("admin:configurations_configurationtemplate_add"),
        {
            "provider_name": "acme",
            "category": "smtp",
            "is_active": "on",
            "template_data": '{"configs": {"host": "{{H}}"}, "variables": []}',
        },
    )
    assert "configs.host uses {{H}}, which is not a declared variable" in response.content.decode()


# ------------------------------------------------------------------------------ service


def test_apply_gmail_encrypts_the_password_and_records_the_reason(user):
    application = services.apply_template(
        provider="gmail", category="smtp", environment="staging", variables=GMAIL, actor=user
    )
    assert [r["status"] for r in application.preview()] == ["new"] * 5
    rows = smtp()
    assert (rows["host"].config_value, rows["port"].config_value, rows["port"].value_type) == (
        "smtp.gmail.com",
        "587",
        "number",
    )
    assert rows["auth_user"].config_value == "team@gmail.com"
    assert rows["auth_pass"].is_encrypted and crypto.is_envelope(rows["auth_pass"].config_value)
    assert services.get_value(category="smtp", key="auth_pass", environment="staging") == GMAIL["EMAIL_PASS"]
    entries = ConfigurationHistory.objects.filter(environment="staging")
    assert {(e.changed_by, e.change_reason) for e in entries} == {(user, "Applied template gmail")}


def test_applying_again_writes_nothing_and_other_keys_are_untouched(history):
    services.set_value(category="smtp", key="x_header", environment="staging", value="keep me")
    services.apply_template(provider="gmail", category="smtp", environment="staging", variables=GMAIL)
    history.mark()
    again = services.apply_template(provider="gmail", category="smtp", environment="staging", variables=GMAIL)
    assert [r["status"] for r in again.preview()] == ["same"] * 5
    assert history.rows() == []
    assert smtp()["x_header"].config_value == "keep me"


def test_preview_marks_new_changed_and_same_and_masks_secrets():
    services.set_value(category="smtp", key="host", environment="staging", value="smtp.gmail.com")
    services.set_value(category="smtp", key="port", environment="staging", value="25")
    services.set_value(category="smtp", key="auth_pass", environment="staging", value="old-password-1")
    preview = {
        r["key"]: r
        for r in services.plan_template(
            provider="gmail", category="smtp", environment="staging", variables=GMAIL
        ).preview()
    }
    assert (preview["host"]["status"], preview["port"]["status"], preview["auth_user"]["status"]) == (
        "same",
        "changed",
        "new",
    )
    assert (preview["port"]["current"], preview["port"]["new"]) == ("25", "587")
    assert preview["auth_pass"]["current"] == preview["auth_pass"]["new"] == services.SECRET_MASK
    assert smtp()["port"].config_value == "25"  # planning writes nothing


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variables": {"EMAIL_USER": "team@gmail.com"}}, "variable EMAIL_PASS is required"),
        ({"variables": {**GMAIL, "EXTRA": "1"}}, "unknown variable EXTRA"),
        ({"variables": {**GMAIL, "EMAIL_USER": "team@yahoo.com"}}, "variable EMAIL_USER must be a Gmail address"),
        ({"provider": "nosuch"}, "unknown provider 'nosuch'"),
        ({"environment": "qa"}, "unknown environment 'qa'"),
    ],
)
def test_bad_input_is_named_and_writes_nothing(kwargs, message, history):
    arguments = {"provider": "gmail", "category": "smtp", "environment": "staging", "variables": GMAIL, **kwargs}
    with pytest.raises(ValidationError, match=message):
        services.apply_template(**arguments)
    assert history.rows() == [] and smtp() == {}


def test_target_key_rules_apply_and_name_the_variable():
    ConfigurationTemplate.objects.create(
        provider_name="tiny",
        category="smtp",
        template_data={
            "configs": {"port": "{{PORT}}", "host": "mail.example.com"},
            "variables": [{"name": "PORT", "required": True}],
        },
    )
    with pytest.raises(ValidationError, match=r"SMTP Port must be at most 65535 \(from variable PORT\)"):
        services.apply_template(provider="tiny", category="smtp", environment="test", variables={"PORT": "99999"})
    assert smtp("test") == {}


def test_amazon_ses_region_variable_builds_the_host():
    services.apply_template(
        provider="amazon_ses",
        category="smtp",
        environment="production",
        variables={
            "AWS_REGION": "eu-west-1",
            "SES_SMTP_USERNAME": "AKIAIOSFODNN7EXAMPLE",
            "SES_SMTP_PASSWORD": "BExampleSmtpPasswordThatIsLong0123456789",
        },
    )
    assert smtp("production")["host"].config_value == "email-smtp.eu-west-1.amazonaws.com"
    with pytest.raises(ValidationError, match="variable AWS_REGION must be an AWS region"):
        services.plan_template(
            provider="amazon_ses",
            category="smtp",
            environment="test",
            variables={
                "AWS_REGION": "moon",
                "SES_SMTP_USERNAME": "AKIAIOSFODNN7EXAMPLE",
                "SES_SMTP_PASSWORD": "x" * 40,
            },
        )


@pytest.mark.parametrize("where", ["encrypt", "write"])
def test_failure_at_the_last_key_changes_nothing(where, monkeypatch, history):
    services.set_value(category="smtp", key="host", environment="staging", value="old.example.com")
    history.mark()
    if where == "encrypt":  # auth_pass, the template's last key, is encrypted last

        def fail(*args, **kwargs):
            raise RuntimeError("injected failure")

        monkeypatch.setattr(crypto, "encrypt", fail)
    else:  # the rows are written, then the last step fails
        from configurations.data import bulk

        real_insert = bulk.insert

        def write_then_fail(rows, then=None):
            real_insert(rows, then)
            assert SystemConfiguration.objects.filter(environment="staging").count() == 5
            raise RuntimeError("injected failure")

        monkeypatch.setattr(bulk, "insert", write_then_fail)
    with pytest.raises(RuntimeError, match="injected failure"):
        services.apply_template(provider="gmail", category="smtp", environment="staging", variables=GMAIL)
    assert set(smtp()) == {"host"} and smtp()["host"].config_value == "old.example.com"
    assert history.rows() == []


# ------------------------------------------------------------------------------ command


def test_command_applies_with_vars_from_the_environment(monkeypatch, user):
    monkeypatch.setenv("EMAIL_PASS", GMAIL["EMAIL_PASS"])
    out = StringIO()
    call_command(
        "apply_template",
        "gmail",
        "--environment",
        "staging",
        "--var",
        "EMAIL_USER=team@gmail.com",
        "--var-from-env",
        "EMAIL_PASS",
        "--reason",
        "switch to gmail",
        "--actor",
        "alice",
        stdout=out,
    )
    text = out.getvalue()
    assert "Applied template gmail to smtp in staging" in text and "5 keys changed" in text
    assert "  new      host: smtp.gmail.com\n" in text  # a new key: its value, no "old -> new"
    assert GMAIL["EMAIL_PASS"] not in text and "••••••••" in text
    services.set_value(category="smtp", key="port", environment="staging", value="2525")
    again = StringIO()
    call_command("apply_template", "gmail", "--environment", "staging", "--var", "EMAIL_USER=team@gmail.com",
                 "--var-from-env", "EMAIL_PASS", stdout=again)  # fmt: skip
    assert "  changed  port: 2525 -> 587\n" in again.getvalue() and "1 key changed" in again.getvalue()
    assert services.get_value(category="smtp", key="auth_pass", environment="staging") == GMAIL["EMAIL_PASS"]
    reasons = [e.change_reason for e in ConfigurationHistory.objects.filter(environment="staging").order_by("id")]
    assert reasons == ["switch to gmail"] * 5 + [None, "Applied template gmail"]


def test_command_dry_run_writes_nothing():
    out = StringIO()
    call_command(
        "apply_template",
        "gmail",
        "--environment",
        "staging",
        "--dry-run",
        *[f"--var={k}={v}" for k, v in GMAIL.items()],
        stdout=out,
    )
    assert "Would apply template gmail" in out.getvalue() and "5 keys would change" in out.getvalue()
    assert smtp() == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--var", "EMAIL_USER=team@gmail.com"], "variable EMAIL_PASS is required"),
        (
            ["--var", "NOPE=1", "--var", "EMAIL_USER=team@gmail.com", "--var", "EMAIL_PASS=abcdefghijklmnop"],
            "unknown variable NOPE",
        ),
        (
            ["--var", "EMAIL_USER=bad", "--var", "EMAIL_PASS=abcdefghijklmnop"],
            "variable EMAIL_USER must be a Gmail address",
        ),
        (["--var", "broken"], "expected NAME=VALUE"),
        (["--var-from-env", "SURELY_NOT_SET_ANYWHERE"], "not set in the environment"),
    ],
)
def test_command_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("apply_template", "gmail", "--environment", "staging", *args)
    assert smtp() == {}


def test_command_unknown_provider_and_environment_exit_non_zero_in_a_real_process():
    env = subprocess_env()
    for args, message in [
        (["nosuch", "--environment", "staging"], "unknown provider 'nosuch'"),
        (["gmail", "--environment", "qa"], "unknown environment 'qa'"),
    ]:
        result = subprocess.run(
            [sys.executable, "manage.py", "apply_template", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode != 0 and message in result.stderr, result.stderr


# ------------------------------------------------------------------------- admin action


def _action(client, template, follow=False, **data):
    url = reverse("admin:configurations_configurationtemplate_changelist")
    data = {"action": "apply_to_environment", ACTION_CHECKBOX_NAME: [template.pk], **data}
    return client.post(url, data, follow=follow)


@pytest.fixture
def gmail(db):
    return ConfigurationTemplate.objects.get(provider_name="gmail")


def _variables(values=GMAIL):
    return {f"var__{k}": v for k, v in values.items()}


def test_action_form_page_shows_instructions_and_variables(admin_client, gmail):
    response = _action(admin_client, gmail, index="0")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<option value="" selected>---------</option>' in html  # no environment chosen for the user
    assert "Enable 2FA on your Gmail account" in html
    assert "Gmail email address" in html and "Example: your-email@gmail.com" in html
    assert '<input type="password" name="var__EMAIL_PASS"' in html
    assert '<input type="text" name="var__EMAIL_USER"' in html
    assert 'name="environment"' in html and 'name="reason"' in html


def test_action_preview_then_apply(admin_client, admin_user, gmail):
    services.set_value(category="smtp", key="port", environment="staging", value="25")
    refused = _action(admin_client, gmail, post="preview", environment="staging", reason="", **_variables())
    assert "reason" in refused.context["form"].errors  # a reason, like every other write
    preview = _action(admin_client, gmail, post="preview", environment="staging", reason="to gmail", **_variables())
    assert preview.status_code == 200
    html = preview.content.decode()
    assert GMAIL["EMAIL_PASS"] not in html and "encrypted:" not in html
    rows = {r["key"]: r for r in preview.context["rows"]}
    assert (rows["port"]["status"], rows["host"]["status"]) == ("changed", "new")
    assert smtp()["port"].config_value == "25"  # nothing written yet
    token = preview.context["token"]
    done = _action(admin_client, gmail, post="yes", token=token, REMOTE_ADDR="192.0.2.3")
    assert done.status_code == 302 and done.url == reverse(
        "admin:configurations_category_edit", args=["smtp", "staging"]
    )
    assert services.get_value(category="smtp", key="auth_pass", environment="staging") == GMAIL["EMAIL_PASS"]
    entries = ConfigurationHistory.objects.filter(environment="staging", change_reason="to gmail")
    assert {e.config_key for e in entries} == {"host", "port", "secure", "auth_user", "auth_pass"}
    assert {e.changed_by for e in entries} == {admin_user}
    # The pending values are gone: a replayed confirmation applies nothing.
    assert _action(admin_client, gmail, post="yes", token=token).status_code == 302
    assert ConfigurationHistory.objects.filter(environment="staging").count() == 6


def test_applying_to_production_needs_the_box_like_every_write_into_production(admin_client, gmail, history):
    preview = _action(admin_client, gmail, post="preview", environment="production", reason="r", **_variables())
    assert 'name="confirm_production"' in preview.content.decode()
    history.mark()
    refused = _action(admin_client, gmail, post="yes", token=preview.context["token"], follow=True)
    assert "tick “Yes, change production”" in refused.content.decode() and history.rows() == []
    assert 'value="team@gmail.com"' in refused.content.decode()  # the form again, the plain values kept
    preview = _action(admin_client, gmail, post="preview", environment="production", reason="r", **_variables())
    _action(admin_client, gmail, post="yes", token=preview.context["token"], confirm_production="yes")
    assert services.get_value(category="smtp", key="host", environment="production") == "smtp.gmail.com"


def test_action_bad_variables_are_shown_inline(admin_client, gmail):
    response = _action(admin_client, gmail, post="preview", environment="staging", reason="r",
                       **_variables({"EMAIL_USER": "team@yahoo.com"}))  # fmt: skip
    errors = response.context["form"].errors
    assert "must be a Gmail address" in str(errors["var__EMAIL_USER"]) and "is required" in str(
        errors["var__EMAIL_PASS"]
    )
    assert smtp() == {}


def test_action_needs_the_environment_permission(staff_client, gmail, history):
    client = staff_client("view_configurationtemplate", "edit_staging")
    form_page = _action(client, gmail, index="0").content.decode()
    assert '<option value="staging">' in form_page and '<option value="production">' not in form_page
    response = _action(client, gmail, post="preview", environment="production", reason="r", **_variables())
    # Refused on the styled form page, the input kept (but never a secret), instead of a bare 403.
    assert response.status_code == 200 and "environment" in response.context["form"].errors
    assert 'value="team@gmail.com"' in response.content.decode()
    assert history.rows() == []
    assert _action(client, gmail, post="preview", environment="staging", reason="r", **_variables()).status_code == 200


def test_action_back_keeps_plain_values_only(admin_client, gmail):
    preview = _action(admin_client, gmail, post="preview", environment="staging", reason="r", **_variables())
    back = _action(admin_client, gmail, post="back", token=preview.context["token"])
    html = back.content.decode()
    assert 'value="team@gmail.com"' in html and GMAIL["EMAIL_PASS"] not in html


def test_pending_secrets_are_encrypted_in_the_session(admin_client, gmail):
    _action(admin_client, gmail, post="preview", environment="staging", reason="r", **_variables())
    from django.contrib.sessions.models import Session

    stored = " ".join(str(s.get_decoded()) for s in Session.objects.all())
    assert GMAIL["EMAIL_PASS"] not in stored and "team@gmail.com" in stored
