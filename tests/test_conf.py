"""Every setting has one default, in configurations/conf.py; the README table documents exactly what the code reads."""

from __future__ import annotations

import pathlib
import re
import time

import pytest

from configurations import conf

ROOT = pathlib.Path(__file__).resolve().parents[1]
# How the code reads an environment variable: django-environ's env.<kind>("NAME" ...), os.environ / getenv.
READS = re.compile(
    r"""(?:\benv\.\w+\(\s*|\benv\(\s*|_from_env\(\s*env\.\w+,\s*|environ(?:\.get)?[(\[]\s*|getenv\(\s*)"([A-Z][A-Z0-9_]+)\"""",
)


def _code() -> list[pathlib.Path]:
    files = [*(ROOT / "config_site").glob("*.py"), *(ROOT / "configurations").rglob("*.py")]
    return [path for path in files if "migrations" not in path.parts]


def variables_read() -> set[str]:
    return {name for path in _code() for name in READS.findall(path.read_text())}


def variables_documented() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| Variable | Default | Meaning |") :].split("\n\n")[0]
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_the_readme_table_lists_exactly_the_variables_the_code_reads():
    read, documented = variables_read(), variables_documented()
    assert not documented - read, f"documented but read nowhere: {sorted(documented - read)}"
    assert not read - documented, f"read but missing from README's table: {sorted(read - documented)}"


def test_the_scan_finds_the_reads_it_must():
    # The scan itself can fail: these are read in three different ways.
    assert {"CONFIG_API_MAX_WAIT", "CONFIG_SECRET_KEY_PATTERNS", "GUNICORN_THREADS", "CONFIG_SERVER_THREADS"} <= (
        variables_read()
    )


def test_settings_py_writes_no_default_of_its_own():
    text = (ROOT / "config_site" / "settings.py").read_text()
    own = re.findall(r'env\.\w+\(\s*"(CONFIG_\w+)"\s*,\s*default=', text)
    assert own == [], f"defaults belong in configurations/conf.py DEFAULTS: {own}"
    assert set(re.findall(r'_from_env\(env\.\w+, "(CONFIG_\w+)"\)', text)) == set(conf.DEFAULTS) - {
        "CONFIG_RUNTIME_LISTEN"
    }


def test_without_a_django_setting_each_reader_falls_back_to_the_one_default(settings):
    for name in ("CONFIG_PATTERN_TIMEOUT", "CONFIG_API_MAX_WAIT", "CONFIG_API_RATE", "CONFIG_IMPORT_MAX_BYTES"):
        delattr(settings, name)
    assert conf.pattern_timeout() == conf.DEFAULTS["CONFIG_PATTERN_TIMEOUT"]
    assert conf.api_max_wait() == conf.DEFAULTS["CONFIG_API_MAX_WAIT"]
    assert conf.api_rate() == conf.DEFAULTS["CONFIG_API_RATE"]
    assert conf.import_max_bytes() == conf.DEFAULTS["CONFIG_IMPORT_MAX_BYTES"]


@pytest.mark.django_db
def test_a_long_poll_above_config_api_max_wait_returns_by_it(client, settings):
    from configurations import runtime, services
    from configurations.services import tokens
    from tests.factories import editor_of

    settings.CONFIG_API_MAX_WAIT = 0.4
    runtime.reset()
    owner = editor_of("development", username="poller")
    token = tokens.create_token(name="poll", owner=owner, environments=["development"]).plaintext
    services.set_value(category="app", key="k", environment="development", value="1")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    version = client.get("/api/v1/environments/development/changes/", **headers).json()["version"]
    started = time.monotonic()
    answer = client.get(f"/api/v1/environments/development/changes/?since={version}&wait=30", **headers)
    elapsed = time.monotonic() - started
    runtime.reset()
    assert answer.status_code == 304 and 0.4 <= elapsed < 5, elapsed
