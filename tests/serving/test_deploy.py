"""`check --deploy` is clean with the README's production variables, and DEBUG off means HTTPS-only defaults."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from configurations.core import crypto
from tests.conftest import subprocess_env
from tests.servers import ROOT

pytestmark = pytest.mark.django_db


def readme_production_variables() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("\n## Production\n", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    found = {}
    for line in block.splitlines():
        line = line.split("  #")[0].strip()
        if line.startswith("export "):
            for pair in line.removeprefix("export ").split():
                name, value = pair.split("=", 1)
                found[name] = value
    return found


def production_env(**overrides: str) -> dict[str, str]:
    variables = readme_production_variables()
    env = subprocess_env()
    for name in ("DEBUG", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS"):
        env.pop(name, None)  # the test settings' plain-HTTP overrides
    variables |= {
        "SECRET_KEY": "k" + "".join(chr(33 + (i * 7) % 90) for i in range(60)),
        "CONFIG_ENCRYPTION_KEYS": crypto.new_key_entry("prod"),
        "DATABASE_URL": env["DATABASE_URL"],  # the placeholder's role does not exist here
        "DJANGO_SETTINGS_MODULE": "config_site.settings",
    }
    return {**env, **variables, **overrides}


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_readme_block_names_the_variables_deploy_checks_ask_about():
    variables = readme_production_variables()
    assert {"SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SECURE_PROXY_SSL_HEADER"} <= set(variables)


def test_check_deploy_is_clean_with_the_documented_production_variables():
    result = check_deploy(production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_them_check_deploy_says_what_is_missing():
    env = production_env(SECURE_HSTS_SECONDS="0", SESSION_COOKIE_SECURE="false")
    result = check_deploy(env)
    assert result.returncode != 0
    assert {"security.W004", "security.W012"} <= set(re.findall(r"security\.W\d+", result.stdout + result.stderr))


def test_debug_off_defaults_are_https_only():
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, getattr(s, 'SECURE_PROXY_SSL_HEADER', None), s.CONFIG_STATIC_MANIFEST)"
    )
    env = production_env()
    env.pop("SECURE_PROXY_SSL_HEADER")
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    assert result.stdout.strip().splitlines()[-1].split() == [
        "True",
        "True",
        "True",
        "31536000",
        "True",
        "None",
        "False",
    ]
