"""System checks for encryption keys and undecryptable secrets."""

from __future__ import annotations

import pytest

from configurations import checks, services
from configurations.core import crypto


def test_malformed_key_fails_the_check(settings):
    settings.CONFIG_ENCRYPTION_KEYS = "broken"
    [error] = checks.check_encryption_keys()
    assert error.id == "configurations.E001"
    assert "entry 1" in error.msg


def test_good_keys_pass(settings):
    settings.CONFIG_ENCRYPTION_KEYS = crypto.new_key_entry("a")
    assert checks.check_encryption_keys() == []


@pytest.mark.django_db
def test_secrets_without_their_key_fail_the_database_check(settings):
    services.set_value(category="smtp", key="auth_pass", environment="test", value="password-1")
    assert checks.check_secrets_are_decryptable(databases=["default"]) == []
    settings.CONFIG_ENCRYPTION_KEYS = crypto.new_key_entry("unrelated")
    [error] = checks.check_secrets_are_decryptable(databases=["default"])
    assert error.id == "configurations.E002"
    assert "key 'test'" in error.msg and "smtp.auth_pass [test]" in error.msg
    assert "password-1" not in error.msg


@pytest.mark.django_db
def test_database_check_runs_only_when_asked_for_the_database():
    assert checks.check_secrets_are_decryptable() == []
