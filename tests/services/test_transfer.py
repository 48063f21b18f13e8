"""import_configs and export_configs: formats, conflict modes, dry run, atomicity, round trips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from configurations import services
from configurations.core import formats
from configurations.models import ConfigurationHistory, SystemConfiguration
from tests.conftest import subprocess_env

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def run(*args, stdin: str | None = None) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    if stdin is not None:
        import io

        fake = io.TextIOWrapper(io.BytesIO(stdin.encode()))
        original, sys.stdin = sys.stdin, fake
    try:
        call_command(*args, stdout=out, stderr=err)
    finally:
        if stdin is not None:
            sys.stdin = original
    return out.getvalue(), err.getvalue()


def value(category, key, environment="production"):
    return services.get_value(category=category, key=key, environment=environment)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


SHORT_JSON = {
    "production": {
        "smtp": {"host": "smtp.gmail.com", "port": 587, "secure": "true", "auth_pass": "json-secret-123"},
        "feature": {"beta": {"value": True, "value_type": "boolean"}, "limits": {"max": 5, "ratio": 0.25}},
    }
}


def test_json_short_and_long_form(tmp_path, user):
    path = write(tmp_path, "c.json", json.dumps(SHORT_JSON))
    out, _ = run("import_configs", path, "--reason", "initial import", "--actor", "alice")
    assert "Imported: 6 added, 0 changed, 0 unchanged, 0 skipped." in out
    assert (value("smtp", "host"), value("smtp", "port"), value("smtp", "auth_pass")) == (
        "smtp.gmail.com",
        587,
        "json-secret-123",
    )
    assert SystemConfiguration.objects.get(config_key="auth_pass").is_encrypted
    assert value("feature", "beta") is True
    assert value("feature", "limits") == {"max": 5, "ratio": 0.25}
    entries = ConfigurationHistory.objects.filter(environment="production")
    assert {(e.changed_by, e.change_reason) for e in entries} == {(user, "initial import")}


def test_yaml(tmp_path):
    path = write(
        tmp_path, "c.yaml", "staging:\n  smtp:\n    host: mail.example.com\n    port: 2525\n    secure: true\n"
    )
    run("import_configs", path)
    assert (value("smtp", "host", "staging"), value("smtp", "port", "staging"), value("smtp", "secure", "staging")) == (
        "mail.example.com",
        2525,
        True,  # a boolean key (issue 14): YAML true stays true
    )


def test_env_file_matches_known_keys_and_reports_the_rest(tmp_path):
    text = "# SMTP settings\nSMTP_HOST=smtp.sendgrid.net\nexport SMTP_PORT=587\nSMTP_AUTH_PASS='SG.secret value'\nDATABASE_URL=postgres://x\n"
    path = write(tmp_path, "prod.env", text)
    out, _ = run("import_configs", path, "--environment", "production")
    assert (value("smtp", "host"), value("smtp", "port"), value("smtp", "auth_pass")) == (
        "smtp.sendgrid.net",
        587,
        "SG.secret value",
    )
    assert "prod.env:5 (DATABASE_URL): matches no known configuration key" in out
    assert "3 added" in out and "1 skipped" in out


def test_from_environ_is_the_specs_migration(monkeypatch):
    monkeypatch.setenv("APP_SMTP_HOST", "env.example.com")
    monkeypatch.setenv("APP_SMTP_PORT", "2525")
    monkeypatch.setenv("APP_UNRELATED", "x")
    out, _ = run("import_configs", "--from-environ", "--prefix", "APP_", "--environment", "production")
    assert (value("smtp", "host"), value("smtp", "port")) == ("env.example.com", 2525)
    assert "environment variable APP_UNRELATED: matches no known configuration key" in out


def test_stdin_and_format_flag():
    run("import_configs", "-", "--format", "yaml", stdin="test:\n  smtp:\n    host: stdin.example.com\n")
    assert value("smtp", "host", "test") == "stdin.example.com"


@pytest.mark.parametrize(
    ("mode", "host", "message"),
    [("overwrite", "new.example.com", "1 changed"), ("skip", "old.example.com", "exists, kept (--on-conflict skip)")],
)
def test_conflict_modes(tmp_path, mode, host, message):
    services.set_value(category="smtp", key="host", environment="production", value="old.example.com")
    path = write(tmp_path, "c.json", json.dumps({"production": {"smtp": {"host": "new.example.com", "port": 25}}}))
    out, _ = run("import_configs", path, "--on-conflict", mode)
    assert value("smtp", "host") == host and value("smtp", "port") == 25
    assert message in out


def test_conflict_abort_writes_nothing(tmp_path, history):
    services.set_value(category="smtp", key="host", environment="production", value="old.example.com")
    history.mark()
    path = write(tmp_path, "c.json", json.dumps({"production": {"smtp": {"host": "new.example.com", "port": 25}}}))
    with pytest.raises(
        CommandError, match=r"\$\.production\.smtp\.host: smtp\.host \[production\]: exists with a different"
    ):
        run("import_configs", path, "--on-conflict", "abort")
    assert history.rows() == [] and value("smtp", "host") == "old.example.com"
    # The same value again is no conflict.
    same = write(tmp_path, "same.json", json.dumps({"production": {"smtp": {"host": "old.example.com"}}}))
    assert "1 unchanged" in run("import_configs", same, "--on-conflict", "abort")[0]


def test_dry_run_prints_the_plan_masks_secrets_and_writes_nothing(tmp_path, history):
    services.set_value(category="smtp", key="host", environment="production", value="old.example.com")
    services.set_value(category="smtp", key="port", environment="production", value="587")
    history.mark()
    path = write(tmp_path, "c.json", json.dumps(SHORT_JSON))
    out, _ = run("import_configs", path, "--dry-run")
    assert "changed   smtp.host [production] = smtp.gmail.com" in out
    assert "unchanged smtp.port [production] = 587" in out
    assert "added     smtp.auth_pass [production] = ••••••••" in out and "json-secret-123" not in out
    assert "Would import: 4 added, 1 changed, 1 unchanged, 0 skipped." in out
    assert history.rows() == []


def test_reimport_changes_nothing(tmp_path, history):
    path = write(tmp_path, "c.json", json.dumps(SHORT_JSON))
    run("import_configs", path)
    history.mark()
    out, _ = run("import_configs", path)
    assert "0 added, 0 changed, 6 unchanged" in out
    assert history.rows() == []


def test_every_error_is_listed_with_where_and_nothing_is_written(tmp_path, history):
    data = {
        "production": {"smtp": {"host": "ok.example.com", "port": 99999, "secure": "maybe"}},
        "qa": {"smtp": {"host": "x"}},
    }
    path = write(tmp_path, "bad.json", json.dumps(data))
    with pytest.raises(CommandError) as error:
        run("import_configs", path)
    assert "bad.json: $.qa: unknown environment 'qa'" in str(error.value)
    data.pop("qa")
    path = write(tmp_path, "bad.json", json.dumps(data))
    with pytest.raises(CommandError) as error:
        run("import_configs", path)
    text = str(error.value)
    assert "2 problems" in text
    assert "bad.json: $.production.smtp.port: smtp.port [production]: SMTP Port must be at most 65535" in text
    assert "bad.json: $.production.smtp.secure: smtp.secure [production]: 'maybe' is not a boolean" in text
    assert history.rows() == [] and not SystemConfiguration.objects.exists()


def test_error_in_the_last_record_leaves_nothing(tmp_path, history):
    records = {f"key_{i:03d}": f"v{i}" for i in range(50)}
    records["zz_last"] = {"value": "not a number", "value_type": "number"}
    path = write(tmp_path, "c.json", json.dumps({"test": {"bulk": records}}))
    with pytest.raises(
        CommandError, match=r"\$\.test\.bulk\.zz_last: bulk\.zz_last \[test\]: 'not a number' is not a number"
    ):
        run("import_configs", path)
    assert not SystemConfiguration.objects.filter(category="bulk").exists()
    assert history.rows() == []


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("c.json", b'{"production": {"smtp": {"host": }}}', r"c\.json:1:\d+: malformed JSON"),
        ("c.json", b'{"production": {"smtp": {"host": "a", "host": "b"}}}', "appears twice"),
        ("c.yaml", b"production:\n  smtp: [unclosed\n", r"c\.yaml:\d+:\d+: malformed YAML"),
        ("c.yaml", b"production:\n  smtp:\n    host: a\n    host: b\n", "appears twice in one mapping"),
        ("c.json", b'{"production": {"smtp": {"host": "caf\xe9"}}}', "is not UTF-8 text"),
        ("c.env", b"NOT AN ASSIGNMENT\n", r"c\.env:1: expected NAME=value"),
        ("c.env", b'SMTP_HOST="unterminated\n', "unterminated double-quoted value"),
        ("c.txt", b"{}", "cannot tell the format"),
        ("c.json", b'["not", "a", "mapping"]', "the top level must map environments"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, name, raw, message):
    path = tmp_path / name
    path.write_bytes(raw)
    args = ["--environment", "production"] if name.endswith(".env") else []
    with pytest.raises(CommandError, match=message):
        run("import_configs", str(path), *args)
    assert not SystemConfiguration.objects.exists()


def test_size_cap(tmp_path, settings):
    settings.CONFIG_IMPORT_MAX_BYTES = 100
    path = write(tmp_path, "big.json", json.dumps({"production": {"x": {"k": "v" * 200}}}))
    with pytest.raises(CommandError, match=r"is more than 100 bytes \(CONFIG_IMPORT_MAX_BYTES\)"):
        run("import_configs", path)


def test_wrong_type_is_reported(tmp_path):
    path = write(tmp_path, "c.json", json.dumps({"production": {"smtp": {"port": "five hundred"}}}))
    with pytest.raises(CommandError, match=r"'five hundred' is not a number"):
        run("import_configs", path)


def test_env_format_needs_an_environment(tmp_path):
    path = write(tmp_path, "c.env", "SMTP_HOST=x\n")
    with pytest.raises(CommandError, match="has no environment level: give --environment"):
        run("import_configs", path)


# ------------------------------------------------------------------------------ exporting


@pytest.fixture
def populated(db):
    services.set_value(category="smtp", key="host", environment="production", value="smtp.gmail.com")
    services.set_value(category="smtp", key="port", environment="production", value="587")
    services.set_value(category="smtp", key="auth_pass", environment="production", value="exported-secret-1")
    services.set_value(category="app", key="ratio", environment="production", value="0.125", value_type="number")
    services.set_value(category="app", key="flag", environment="production", value="false", value_type="boolean")
    services.set_value(
        category="app", key="tree", environment="production", value={"a": [1, "x"], "b": None}, value_type="json"
    )
    services.set_value(
        category="app", key="motd", environment="production", value='two\nlines "quoted" # not a comment'
    )
    services.set_value(category="app", key="token", environment="production", value="tok-secret-2", is_encrypted=True)
    services.set_value(category="app", key="other_env", environment="staging", value="staging only")


def _typed_snapshot() -> dict:
    rows = SystemConfiguration.objects.filter(environment="production", is_active=True)
    return {(r.category, r.config_key): (r.value_type, r.is_encrypted, services.typed_value(r)) for r in rows}


def test_export_masks_secrets_by_default(populated):
    for fmt in formats.FORMATS:
        out, err = run("export_configs", "--environment", "production", "--format", fmt)
        assert "exported-secret-1" not in out and "tok-secret-2" not in out and "encrypted:AES256" not in out
        assert "WARNING" not in err
    assert json.loads(run("export_configs", "--environment", "production")[0])["production"]["smtp"]["auth_pass"] == {
        "value": None,
        "value_type": "string",
        "is_encrypted": True,
        "masked": True,
    }


def test_export_in_the_clear_warns_on_stderr(populated):
    out, err = run("export_configs", "--include-secrets")
    assert "exported-secret-1" in out and "WARNING: secrets are exported in the clear" in err


def test_env_export_needs_one_environment(populated):
    with pytest.raises(CommandError, match="the env format holds one environment"):
        run("export_configs", "--format", "env")


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_round_trip_into_an_empty_database(populated, fmt, tmp_path):
    before = _typed_snapshot()
    path = tmp_path / f"export.{fmt}"
    run("export_configs", "--environment", "production", "--format", fmt, "--include-secrets", "--output", str(path))
    SystemConfiguration.objects.all().delete()
    args = ["--environment", "production"] if fmt == "env" else []
    run("import_configs", str(path), "--format", fmt, *args)
    assert _typed_snapshot() == before
    assert services.get_value(category="smtp", key="auth_pass", environment="production") == "exported-secret-1"


def test_masked_export_reimports_without_touching_secrets(populated, tmp_path, history):
    path = tmp_path / "masked.json"
    run("export_configs", "--environment", "production", "--output", str(path))
    history.mark()
    out, _ = run("import_configs", str(path))
    assert "secret not in the export, kept" in out and history.rows() == []
    assert services.get_value(category="app", key="token", environment="production") == "tok-secret-2"


def test_filters_restrict_export_and_import(populated, tmp_path):
    out, _ = run("export_configs", "--category", "smtp", "--environment", "production")
    assert set(json.loads(out)["production"]) == {"smtp"}
    path = tmp_path / "all.json"
    run("export_configs", "--include-secrets", "--output", str(path))
    SystemConfiguration.objects.all().delete()
    out, _ = run("import_configs", str(path), "--environment", "staging")
    assert "not in --environment/--category, skipped" in out
    assert list(SystemConfiguration.objects.values_list("environment", flat=True).distinct()) == ["staging"]


@pytest.mark.django_db(transaction=True)
def test_commands_in_a_real_process(tmp_path):
    from tests.chromium import load_shipped_data

    load_shipped_data()
    good = write(tmp_path, "c.json", json.dumps({"test": {"smtp": {"host": "proc.example.com", "port": 25}}}))
    bad = write(tmp_path, "bad.json", json.dumps({"test": {"smtp": {"port": 0}}}))
    env = subprocess_env()

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )

    ok = manage("import_configs", good)
    assert ok.returncode == 0, ok.stderr
    assert "Imported: 2 added" in ok.stdout and "[" not in ok.stderr  # no progress bar when not on a terminal
    failed = manage("import_configs", bad)
    assert failed.returncode == 1 and "SMTP Port must be at least 1" in failed.stderr
    exported = manage("export_configs", "--environment", "test")
    assert (
        exported.returncode == 0 and json.loads(exported.stdout)["test"]["smtp"]["host"]["value"] == "proc.example.com"
    )
    assert value("smtp", "port", "test") == 25
    os.remove(good)
