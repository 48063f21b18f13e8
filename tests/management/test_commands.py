"""ensure_admin, and settings that refuse to start misconfigured."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from configurations.models import User

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_ensure_admin_creates_a_superuser_once_and_prints_the_password():
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    password = out.getvalue().split("password: ")[1].split()[0]
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    again = StringIO()
    call_command("ensure_admin", stdout=again)
    assert "already exists" in again.getvalue()
    assert User.objects.filter(is_superuser=True).count() == 1


def _settings_in_subprocess(**env_vars) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "CONFIG_ENVIRONMENT"}}
    env.update(env_vars, DJANGO_SETTINGS_MODULE="config_site.settings")
    code = "import django; django.setup(); from django.conf import settings; print(settings.CONFIG_ENVIRONMENT)"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def test_secret_key_is_required_when_debug_is_off():
    result = _settings_in_subprocess(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_debug_runs_with_the_development_key_and_default_environment():
    result = _settings_in_subprocess(DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "development"


def test_unknown_config_environment_is_refused():
    result = _settings_in_subprocess(DEBUG="true", CONFIG_ENVIRONMENT="qa")
    assert result.returncode != 0
    assert "CONFIG_ENVIRONMENT must be one of" in result.stderr


def test_config_environment_is_read():
    result = _settings_in_subprocess(SECRET_KEY="x" * 50, CONFIG_ENVIRONMENT="staging")
    assert result.stdout.strip() == "staging", result.stderr
