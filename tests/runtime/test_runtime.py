"""configurations.runtime: the read API, snapshots per request, speed-related guarantees."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from configurations import runtime, services
from configurations.core import crypto
from configurations.middleware import RuntimeSnapshotMiddleware
from configurations.models import SystemConfiguration
from configurations.runtime import persistence

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_runtime():
    runtime.reset()
    yield
    runtime.reset()


@pytest.fixture
def values(settings):
    settings.CONFIG_ENVIRONMENT = "production"
    services.set_value(category="smtp", key="host", environment="production", value="smtp.gmail.com")
    services.set_value(category="smtp", key="port", environment="production", value="587")
    services.set_value(category="smtp", key="auth_pass", environment="production", value="runtime-secret-1")
    services.set_value(category="smtp", key="host", environment="staging", value="staging.example.com")
    services.set_value(category="app", key="ratio", environment="production", value="0.125", value_type="number")
    services.set_value(category="app", key="on", environment="production", value="true", value_type="boolean")
    services.set_value(category="app", key="tree", environment="production", value={"a": [1]}, value_type="json")
    services.set_value(category="app", key="empty", environment="production", value="")
    services.set_value(category="app", key="gone", environment="production", value="x")
    services.deactivate(category="app", key="gone", environment="production")


def test_typed_values_of_the_configured_environment(values):
    assert runtime.get("smtp", "host") == "smtp.gmail.com"
    assert runtime.get("smtp", "port") == 587
    assert runtime.get("app", "ratio") == Decimal("0.125")
    assert runtime.get("app", "on") is True
    assert runtime.get("app", "tree") == {"a": [1]}
    assert runtime.get("app", "empty") == ""


def test_other_environment(values):
    assert runtime.get("smtp", "host", environment="staging") == "staging.example.com"


def test_unknown_key_raises_a_clear_key_error_unless_defaulted(values):
    with pytest.raises(KeyError, match=r"no active configuration smtp\.nope \[production\]"):
        runtime.get("smtp", "nope")
    with pytest.raises(runtime.ConfigurationNotFound):
        runtime.get("app", "gone")  # inactive rows are invisible
    assert runtime.get("smtp", "nope", None) is None
    assert runtime.get("smtp", "nope", default=25) == 25


def test_secrets_come_back_decrypted(values):
    assert runtime.get("smtp", "auth_pass") == "runtime-secret-1"


def test_undecryptable_secret_fails_loudly_and_logs_no_value(values, caplog, settings):
    settings.CONFIG_ENCRYPTION_KEYS = crypto.new_key_entry("other")
    with pytest.raises(crypto.DecryptionError, match=r"smtp\.auth_pass"):
        runtime.get("smtp", "auth_pass")
    assert runtime.get("smtp", "host") == "smtp.gmail.com"  # the rest of the snapshot is fine
    assert "cannot be decrypted" in caplog.text and "runtime-secret-1" not in caplog.text


def test_get_category(values):
    assert runtime.get_category("smtp") == {"host": "smtp.gmail.com", "port": 587, "auth_pass": "runtime-secret-1"}
    assert runtime.get_category("nothing") == {}


def test_json_values_cannot_be_changed_through_a_read(values):
    runtime.get("app", "tree")["a"].append(2)
    runtime.get_category("app")["tree"]["a"].append(3)
    assert runtime.get("app", "tree") == {"a": [1]}


def test_cold_start_is_three_queries_and_warm_reads_none(values, django_assert_num_queries):
    with django_assert_num_queries(3):  # the versions, the password keys, then the rows
        runtime.get("smtp", "host")
    with django_assert_num_queries(0):
        for _ in range(100):
            runtime.get("smtp", "port")
        runtime.get_category("smtp")


def test_reload_picks_up_changes(values):
    assert runtime.get("smtp", "port") == 587
    services.set_value(category="smtp", key="port", environment="production", value="2525")
    runtime.reload("production")
    assert runtime.get("smtp", "port") == 2525


def test_one_snapshot_per_request(values):
    seen = []

    def view(request):
        seen.append(runtime.get("smtp", "port"))
        services.set_value(category="smtp", key="port", environment="production", value="2525")
        runtime.reload("production")  # what the watcher does when the change commits
        seen.append(runtime.get("smtp", "port"))
        seen.append(runtime.get_category("smtp")["port"])
        return HttpResponse("ok")

    RuntimeSnapshotMiddleware(view)(RequestFactory().get("/"))
    assert seen == [587, 587, 587]  # no mix of old and new within one response
    assert runtime.get("smtp", "port") == 2525  # the next request sees the change


def test_context_processor(values, rf):
    from configurations.context_processors import configurations

    context = configurations(rf.get("/"))
    assert context["config"]["smtp"]["port"] == 587
    from django.template import Context, Template

    assert Template("{{ config.smtp.host }}").render(Context(context)) == "smtp.gmail.com"


def test_watch_is_off_in_tests_so_no_thread_starts(values):
    runtime.get("smtp", "host")
    assert runtime._store.watcher is None
    assert SystemConfiguration.objects.exists()


def test_snapshot_is_saved_atomically_with_secrets_still_encrypted(values, settings, tmp_path):
    import json
    import stat

    settings.CONFIG_RUNTIME_SNAPSHOT_DIR = str(tmp_path)
    runtime.reload("production")
    saved = tmp_path / "configurations-production.json"
    text = saved.read_text()
    assert "runtime-secret-1" not in text and "smtp" not in text  # the whole file is sealed
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    saved = persistence.load("production")
    assert ("smtp", "port", "587", "number", False) in [row[1:] for row in saved.rows]
    assert any(str(row[3]).startswith("encrypted:AES256:v1:") for row in saved.rows)
    assert saved.category_versions == runtime.snapshot("production").category_versions  # secrets stay encrypted inside
    assert set(json.loads(text)) == {"format", "key_id", "nonce", "sealed"}
    assert not list(tmp_path.glob(".snapshot-*"))  # no temporary file left behind
