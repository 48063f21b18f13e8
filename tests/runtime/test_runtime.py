"""configurations.runtime: the read API, snapshots per request, speed-related guarantees."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from configurations import runtime, services
from configurations.core import crypto
from configurations.middleware import RuntimeSnapshotMiddleware
from configurations.models import ConfigurationMetadata, SystemConfiguration
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


def test_a_request_whose_first_read_is_a_category_sees_that_snapshot_throughout(values):
    seen = []

    def view(request):
        seen.append(runtime.get_category("smtp")["port"])  # the first read pins the request's snapshot
        services.set_value(category="smtp", key="port", environment="production", value="2525")
        runtime.reload("production")
        seen.append(runtime.get_category("smtp")["port"])
        seen.append(runtime.get("smtp", "port"))
        return HttpResponse("ok")

    RuntimeSnapshotMiddleware(view)(RequestFactory().get("/"))
    assert seen == [587, 587, 587]
    assert runtime.get_category("smtp")["port"] == 2525


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


# ------------------------------------------------------------------------------- defaults are values


@pytest.fixture
def flag(settings):
    """A flag created "default off": metadata with a default, and no stored row yet."""
    settings.CONFIG_ENVIRONMENT = "production"
    services.save_rule(ConfigurationMetadata(category="features", config_key="beta", display_name="Beta",
                                             input_type="checkbox", default_value="false"))  # fmt: skip
    services.save_rule(ConfigurationMetadata(category="features", config_key="limit", display_name="Limit",
                                             input_type="number", default_value="25"))  # fmt: skip


def test_a_key_with_a_default_and_no_row_is_its_default_typed_and_says_so(flag):
    assert runtime.get("features", "beta") is False and runtime.source("features", "beta") == "default"
    assert runtime.get("features", "limit") == 25
    assert runtime.get_category("features") == {"beta": False, "limit": 25}
    assert services.get_value(category="features", key="limit", environment="staging") == 25
    assert services.value_and_source(category="features", key="beta", environment="test") == (False, "default")
    with pytest.raises(runtime.ConfigurationNotFound):
        runtime.source("features", "nope")  # neither a row nor a default


def test_a_stored_value_replaces_the_default_and_its_deactivation_brings_it_back(flag):
    runtime.reload()
    services.set_value(category="features", key="beta", environment="production", value="true")
    runtime.snapshots.refresh(runtime._django_query, ["production"])  # a delta
    assert runtime.get("features", "beta") is True and runtime.source("features", "beta") == "stored"
    services.deactivate(category="features", key="beta", environment="production")
    runtime.snapshots.refresh(runtime._django_query, ["production"])
    assert runtime.get("features", "beta") is False and runtime.source("features", "beta") == "default"
    assert services.value_and_source(category="features", key="beta", environment="production") == (False, "default")


def test_a_changed_default_reaches_the_snapshot_at_the_next_refresh(flag):
    runtime.reload()
    full_loads = runtime.status()["full_loads"]
    meta = ConfigurationMetadata.objects.get(category="features", config_key="limit")
    meta.default_value = "50"
    services.save_rule(meta)
    runtime.snapshots.refresh(runtime._django_query, ["production"])
    assert runtime.get("features", "limit") == 50
    assert runtime.status()["full_loads"] == full_loads + 1  # a metadata change is a full load


def test_get_category_copies_only_what_a_caller_could_change_and_refuses_an_undecryptable(values, settings):
    first = runtime.get_category("app")
    first["ratio"] = "mine"
    first["tree"]["a"].append(99)
    again = runtime.get_category("app")
    assert again["ratio"] == Decimal("0.125") and again["tree"] == {"a": [1]}
    assert runtime.snapshot().guarded["app"] == frozenset({"tree"})  # only the JSON value needs a copy
    services.set_value(category="app", key="tree", environment="production", value="plain now", value_type="string")
    runtime.snapshots.refresh(runtime._django_query, ["production"])
    assert "app" not in runtime.snapshot().guarded  # the delta recomputed the changed category
