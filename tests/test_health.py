"""/healthz, /readyz, /metrics, request ids, static files without collectstatic and the security headers, through
Django's test client on both databases (serving/test_gunicorn.py does the same over gunicorn)."""

from __future__ import annotations

import os
import time

import pytest
from prometheus_client import REGISTRY

from configurations import runtime, services
from configurations.data.models import ConfigurationHistory, HistoryChainHead
from tests.factories import age_history

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("development_runtime")]


def test_healthz_answers_without_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "pid": os.getpid()}
    assert "no-cache" in answer["Cache-Control"]


def test_readyz_reports_versions_and_nothing_secret(client, django_assert_max_num_queries):
    services.set_value(category="smtp", key="auth_pass", environment="development", value="ready-secret-1")
    first = client.get("/readyz")
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["status"] == "ok" and body["pid"] == os.getpid()
    assert body["checks"] == {"database": True, "migrations": True, "snapshot": True, "watcher": True}
    newest = ConfigurationHistory.objects.order_by("-id").values_list("id", flat=True)[0]
    assert body["environments"]["development"]["version"] == newest
    assert 0 <= body["environments"]["development"]["age_seconds"] < 5
    assert abs(body["environments"]["development"]["updated_at"] - time.time()) < 60
    assert b"ready-secret-1" not in first.content and b"auth_pass" not in first.content and b"smtp" not in first.content
    with django_assert_max_num_queries(1):  # probed every second: one SELECT 1 once migrations were seen applied
        assert client.get("/readyz").status_code == 200


def test_readyz_waits_for_a_new_watcher_and_is_503_when_it_does_not_follow(client, settings, caplog):
    settings.CONFIG_RUNTIME_WATCH = True
    runtime.reset()
    try:
        first = client.get("/readyz")  # loads the snapshot, starts the watcher and gives it a second to sync
        assert first.status_code == 200, first.json()
        runtime._store.watcher.stop()  # as when it loses the database
        caplog.clear()
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["status"] == "unavailable" and answer.json()["checks"]["watcher"] is False
        assert not [r for r in caplog.records if r.levelname == "ERROR"]  # a probe's 503 is no server error
    finally:
        runtime.reset()


def test_metrics_is_404_without_a_token_configured(client, settings):
    settings.CONFIG_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


def test_metrics_needs_the_bearer_token(client, settings):
    settings.CONFIG_METRICS_TOKEN = "scrape-token-1"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="scrape-token-1").status_code == 401
    answer = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-1")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/plain")


def written(path: str, kind: str) -> float:
    return REGISTRY.get_sample_value("configurations_writes_total", {"path": path, "kind": kind}) or 0.0


def test_metrics_count_committed_writes_by_entry_point_and_show_the_chain_head(
    admin_client, settings, django_capture_on_commit_callbacks
):
    settings.CONFIG_METRICS_TOKEN = "scrape-token-1"
    before = written("admin", "create")
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(
            "/admin/configurations/systemconfiguration/add/",
            {
                "category": "app",
                "config_key": "mode",
                "environment": "development",
                "config_value": "fast",
                "value_type": "string",
                "is_active": "on",
                "change_reason": "metrics",
            },
        )
    assert answer.status_code == 302, answer.content[:2000]
    assert written("admin", "create") == before + 1
    runtime.reload("development")
    text = admin_client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-1").content.decode()
    head = HistoryChainHead.objects.get()
    assert f"configurations_history_head {float(head.last_id)}" in text and head.last_hash not in text
    assert 'configurations_runtime_snapshot_version{environment="development"}' in text
    assert "configurations_http_request_seconds_bucket" in text


@pytest.mark.postgres
def test_metrics_show_rows_the_default_history_partition_caught(client, settings):
    settings.CONFIG_METRICS_TOKEN = "scrape-token-1"
    services.set_value(category="m", key="k", environment="test", value="1")
    scrape = lambda: client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-1").content.decode()  # noqa: E731
    assert "configurations_history_default_partition_rows 0.0" in scrape()
    age_history(ConfigurationHistory.objects.values_list("id", flat=True), days=3000)
    assert "configurations_history_default_partition_rows 1.0" in scrape()


def test_writes_are_counted_after_commit_only(django_capture_on_commit_callbacks):
    before_command = written("command", "create")
    with django_capture_on_commit_callbacks(execute=True):
        from configurations.observability import metrics

        with metrics.write_path("command"):
            services.set_value(category="app", key="counted", environment="development", value="1")
    assert written("command", "create") == before_command + 1
    before_other = written("other", "create")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.set_value(category="app", key="not-yet", environment="development", value="1")
    assert written("other", "create") == before_other and len(callbacks) == 1  # counted only when it commits


@pytest.mark.parametrize(
    ("given", "kept"), [("abc-123", True), ("x" * 65, False), ("has space", False), ("<script>", False)]
)
def test_request_ids(admin_client, given, kept):
    answer = admin_client.get("/admin/", HTTP_X_REQUEST_ID=given)
    assert answer.status_code == 200
    assert (answer["X-Request-ID"] == given) is kept
    assert len(answer["X-Request-ID"]) <= 64


def test_static_files_are_served_where_collectstatic_never_ran(client, settings):
    assert not settings.DEBUG and not settings.CONFIG_STATIC_MANIFEST
    page = client.get("/admin/login/")
    assert page.status_code == 200 and b"/static/admin/css/base.css" in page.content
    css = client.get("/static/admin/css/base.css")
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
    assert b"".join(css.streaming_content if css.streaming else [css.content])


def test_admin_pages_carry_the_security_headers(admin_client):
    answer = admin_client.get("/admin/")
    policy = answer["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert answer["X-Frame-Options"] == "DENY" and answer["X-Content-Type-Options"] == "nosniff"
