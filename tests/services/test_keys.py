"""Key rotation: batches, idempotence, failure midway, and the commands."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from configurations import services
from configurations.core import crypto
from configurations.models import ConfigurationHistory, SystemConfiguration
from tests.factories import legacy_plaintext_secret

pytestmark = pytest.mark.django_db

SECRETS = {f"token_{i}": f"secret-value-{i}" for i in range(7)}


@pytest.fixture
def old_secrets(settings):
    for key, value in SECRETS.items():
        services.set_value(category="api", key=key, environment="test", value=value, is_encrypted=True)
    old = settings.CONFIG_ENCRYPTION_KEYS
    settings.CONFIG_ENCRYPTION_KEYS = f"{crypto.new_key_entry('fresh')},{old}"
    return settings


def _key_ids() -> list[str]:
    rows = SystemConfiguration.objects.filter(category="api").order_by("config_key")
    return [crypto.envelope_key_id(r.config_value) for r in rows]


def _all_decrypt() -> bool:
    return all(services.get_value(category="api", key=k, environment="test") == v for k, v in SECRETS.items())


def test_rotation_re_encrypts_everything_and_is_idempotent(old_secrets, history):
    report = services.rotate_encryption_keys(batch_size=3)
    assert (report.rotated, report.already_current, report.failed) == (7, 0, [])
    assert set(_key_ids()) == {"fresh"}
    assert _all_decrypt()
    assert {e.change_reason for e in history.rows()} == {"Encryption key rotation to fresh"}
    history.mark()
    again = services.rotate_encryption_keys(batch_size=3)
    assert (again.rotated, again.already_current) == (0, 7)
    assert history.rows() == []


def test_dry_run_changes_nothing(old_secrets):
    report = services.rotate_encryption_keys(dry_run=True)
    assert report.rotated == 7
    assert set(_key_ids()) == {"test"}


def test_failure_midway_leaves_every_row_decryptable_and_a_rerun_completes(old_secrets, monkeypatch):
    real_encrypt = crypto.encrypt
    calls = {"n": 0}

    def failing_encrypt(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # in the second batch of three
            raise RuntimeError("disk full")
        return real_encrypt(*args, **kwargs)

    monkeypatch.setattr(crypto, "encrypt", failing_encrypt)
    with pytest.raises(RuntimeError, match="disk full"):
        services.rotate_encryption_keys(batch_size=3)
    assert _key_ids().count("fresh") == 3  # the first batch committed, the second rolled back
    assert _all_decrypt()
    monkeypatch.setattr(crypto, "encrypt", real_encrypt)
    report = services.rotate_encryption_keys(batch_size=3)
    assert (report.rotated, report.already_current) == (4, 3)
    assert set(_key_ids()) == {"fresh"} and _all_decrypt()


def test_plaintext_secrets_of_password_keys_get_encrypted():
    legacy_plaintext_secret(
        category="smtp", config_key="auth_pass", environment="test", config_value="stored-in-the-clear"
    )
    report = services.rotate_encryption_keys()
    assert report.encrypted_plaintext == 1
    row = SystemConfiguration.objects.get(category="smtp", config_key="auth_pass", environment="test")
    assert row.is_encrypted and "stored-in-the-clear" not in row.config_value
    assert services.get_value(category="smtp", key="auth_pass", environment="test") == "stored-in-the-clear"


def test_undecryptable_rows_are_reported_not_fatal(settings):
    services.set_value(category="api", key="lost", environment="test", value="x", is_encrypted=True)
    settings.CONFIG_ENCRYPTION_KEYS = crypto.new_key_entry("other")
    report = services.rotate_encryption_keys()
    assert len(report.failed) == 1 and "api.lost [test]" in report.failed[0]


def test_rotate_command_reports_counts_and_records_the_actor(old_secrets, user):
    out = StringIO()
    call_command("rotate_encryption_keys", "--batch-size", "2", "--actor", "alice", stdout=out)
    assert "re-encrypted 7" in out.getvalue()
    entries = ConfigurationHistory.objects.filter(change_reason__startswith="Encryption key rotation")
    assert {e.changed_by for e in entries} == {user}
    assert all(e.user_agent.startswith("manage.py rotate_encryption_keys") for e in entries)


def test_rotate_command_dry_run_and_errors(old_secrets):
    out = StringIO()
    call_command("rotate_encryption_keys", "--dry-run", stdout=out)
    assert "would re-encrypt 7" in out.getvalue()
    assert set(_key_ids()) == {"test"}
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("rotate_encryption_keys", "--actor", "nobody")
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("rotate_encryption_keys", "--batch-size", "0")


def test_generate_encryption_key_prints_a_usable_entry():
    out = StringIO()
    call_command("generate_encryption_key", "--id", "k1", stdout=out)
    ring = crypto.parse_keys(out.getvalue().strip())
    assert ring.active_id == "k1"
    with pytest.raises(CommandError, match="a key id is"):
        call_command("generate_encryption_key", "--id", "bad id")


def test_generate_encryption_key_as_a_real_process():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    command = [sys.executable, "manage.py", "generate_encryption_key"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0, result.stderr
    assert crypto.parse_keys(result.stdout.strip()).active_id.startswith("k")


def test_webhook_signing_secrets_are_re_encrypted_too(settings, local_hooks):
    from configurations.models import WebhookSecret
    from configurations.services import webhooks

    endpoint, secret = webhooks.add_endpoint("hooks", "http://127.0.0.1:9/in")
    old = settings.CONFIG_ENCRYPTION_KEYS
    settings.CONFIG_ENCRYPTION_KEYS = f"{crypto.new_key_entry('fresh')},{old}"
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "Webhook signing secrets re-encrypted: 1." in out.getvalue()
    assert crypto.envelope_key_id(WebhookSecret.objects.get().secret) == "fresh"
    settings.CONFIG_ENCRYPTION_KEYS = settings.CONFIG_ENCRYPTION_KEYS.split(",")[0]
    assert webhooks.live_secrets(endpoint.pk) == [secret]  # readable with the new key alone
