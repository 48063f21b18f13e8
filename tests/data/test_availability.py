"""A database outage, for real: gunicorn serving as the application role, whose connections are then refused
(REVOKE CONNECT and its backends terminated; the server is never stopped). Reads with a token seen before go on
from the snapshot, marked stale; everything that needs the database answers 503 problem+json with Retry-After;
the outage is logged once, with no traceback; /readyz says what is the case; the end of the outage is seen."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from configurations import services
from configurations.services import tokens
from tests.conftest import subprocess_env
from tests.factories import USER_PASSWORD, editor_of
from tests.servers import Client, Gunicorn, get

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
API = "/api/v1/environments/development"


def _connections(role: str, *, refuse: bool) -> None:
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        if refuse:
            cursor.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM "{role}"')
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role])
        else:
            cursor.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')


@pytest.fixture
def served(roles):
    boss = editor_of(username="outage-boss", is_superuser=True)
    services.set_value(category="smtp", key="host", environment="development", value="a.example.com")
    services.set_value(category="smtp", key="auth_pass", environment="development", value="outage-secret-1")
    token = tokens.create_token(name="outage", owner=boss, environments=["development"], write=True).plaintext
    settings = connection.settings_dict
    url = f"postgres://{roles['app']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    env = subprocess_env(DATABASE_URL=url, CONFIG_RUNTIME_WATCH="1", CONFIG_ENVIRONMENT="development")
    with Gunicorn(env, workers=1, threads=4) as server:
        server.wait_until(lambda: get(server.url + "/readyz").status == 200, timeout=30, what="ready")
        try:
            staff = Client(server.url)
            staff.login("outage-boss", USER_PASSWORD)
            yield server, {"Authorization": f"Bearer {token}"}, roles["app"], staff
        finally:
            _connections(roles["app"], refuse=False)


def test_an_outage_serves_reads_stale_answers_503_elsewhere_logs_once_and_ends(served):
    server, auth, role, staff = served
    category = server.url + f"{API}/categories/smtp/"
    fresh = get(category, headers=auth)
    assert fresh.status == 200 and fresh.headers.get("X-Config-Stale") is None
    _connections(role, refuse=True)
    server.wait_until(lambda: get(server.url + "/readyz").status == 503, timeout=10, what="readyz 503")

    answers = []
    threads = [threading.Thread(target=lambda: answers.append(get(category, headers=auth))) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(answers) == 20 and all(a.status == 200 for a in answers), [a.status for a in answers]
    assert all(a.json()["values"] == fresh.json()["values"] for a in answers)
    assert all(a.headers["X-Config-Stale"].isdigit() for a in answers)

    for needs_database in (
        get(server.url + f"{API}/categories/smtp/keys/host/history/", headers=auth),
        get(category, headers={"Authorization": "Bearer cfg_not-a-token-seen-before"}),
    ):
        assert needs_database.status in (503, 401), needs_database.status
    history = get(server.url + f"{API}/categories/smtp/keys/host/history/", headers=auth)
    assert history.status == 503 and history.headers["Content-Type"] == "application/problem+json"
    assert history.headers["Retry-After"] == "5" and history.json()["title"] == "Service unavailable"
    admin = staff.get("/admin/")  # the session needs the database
    assert admin.status == 503 and admin.headers["Retry-After"] == "5" and "Traceback" not in admin.text

    ready = get(server.url + "/readyz")
    checks = ready.json()["checks"]
    assert ready.status == 503 and ready.json()["serving"] == "stale"
    assert checks == {"database": False, "migrations": True, "snapshot": True, "watcher": False}

    _connections(role, refuse=False)
    server.wait_until(lambda: get(server.url + "/readyz").status == 200, timeout=15, what="readyz 200 again")
    again = get(category, headers=auth)
    assert again.status == 200 and again.headers.get("X-Config-Stale") is None
    log = "\n".join(server.log)
    assert log.count("The database is unreachable") == 1, log[-3000:]
    assert "The database is reachable again" in log
    assert "Traceback" not in log and "outage-secret-1" not in log
