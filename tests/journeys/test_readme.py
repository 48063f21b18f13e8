"""The README's commands, pasted in order after `make run`, all work (issue 14): each is run for real."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from configurations import services
from tests import chromium as shipped
from tests.conftest import subprocess_env
from tests.factories import UserFactory
from tests.servers import Gunicorn

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)
COMMAND = re.compile(r'^((?:[A-Z_]+=\S+ )*)make manage ARGS="(.*)"')


def readme_commands() -> list[tuple[dict[str, str], list[str]]]:
    """Every `make manage ARGS="..."` line of the README's import/export block, with its variables."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Import, export, rollback, archive", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.strip().splitlines():
        match = COMMAND.match(line.split("  #")[0].strip())
        assert match, f"not a `make manage` line: {line}"
        variables = dict(pair.split("=", 1) for pair in match.group(1).split())
        commands.append((variables, shlex.split(match.group(2))))
    return commands


def test_the_readme_lists_runnable_commands():
    commands = readme_commands()
    assert len(commands) >= 6 and {args[0] for _, args in commands} >= {"import_configs", "export_configs"}


def test_the_readme_commands_work_in_order(tmp_path):
    shipped.load_shipped_data()
    env = subprocess_env(DEBUG="true")
    env.pop("SECRET_KEY", None)  # as after `make run`: DEBUG on, no secret key set
    for variables, args in readme_commands():
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args], cwd=tmp_path, env={**env, **variables},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout[-500:]}\n{result.stderr[-1500:]}"
        assert "Traceback" not in result.stderr
    assert (tmp_path / "dev.yaml").exists()


def test_make_manage_runs_a_command_with_the_run_settings():
    env = {**subprocess_env(), "PYTHON": sys.executable}
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("make manage uses the project's .venv, which `make run` or `make test` creates")
    result = subprocess.run(["make", "--no-print-directory", "manage", "ARGS=check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-1000:]
    assert "System check identified" in result.stdout


def test_a_configuration_error_is_one_clear_line():
    env = {key: value for key, value in os.environ.items() if key not in ("SECRET_KEY", "DEBUG")}
    env["DJANGO_SETTINGS_MODULE"] = "config_site.settings"
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Configuration error: SECRET_KEY must be set when DEBUG is off.")
    assert "Traceback" not in result.stderr


def readme_api_block() -> str:
    """The README's HTTP API example, as written."""
    text = (ROOT / "README.md").read_text()
    return text.split("## The HTTP API", 1)[1].split("```sh", 1)[1].split("```", 1)[0]


def test_the_readme_api_example_runs_in_order_against_a_served_product(settings):
    """Pasted in order against `make run`'s product on a fresh database: every line works, the conditional read
    answers 304 with the real ETag, and the conditional write with it is accepted."""
    shipped.load_shipped_data()
    UserFactory(username="admin", is_staff=True, is_superuser=True)
    env = subprocess_env(DEBUG="true", CONFIG_ENVIRONMENT="development", CONFIG_RUNTIME_POLL_INTERVAL="0.05")
    env.pop("SECRET_KEY", None)
    with Gunicorn({**env, "CONFIG_RUNTIME_WATCH": "1"}, workers=1, threads=4) as server:
        script = readme_api_block().replace("http://127.0.0.1:8000", server.url)
        script = script.replace("make -s manage ARGS=", f"{shlex.quote(sys.executable)} manage.py ")
        script = re.sub(r'manage\.py "(.*)"', r"manage.py \1", script)
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=180, check=False)  # fmt: skip
    assert result.returncode == 0, f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    assert len(re.findall(r"\}304\n", result.stdout)) == 2  # If-None-Match with the real ETag; a wait with no change
    assert '"changed":true' in result.stdout.replace(" ", "")  # If-Match with that ETag: accepted
    assert services.get_value(category="smtp", key="port", environment="development") == 2525
