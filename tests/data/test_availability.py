"""A database outage, for real: gunicorn serving as the application role, whose connections are then refused
(REVOKE CONNECT and its backends terminated; the server is never stopped). Reads with a token seen before go on
from the snapshot, marked stale; everything that needs the database answers 503 problem+json with Retry-After;
the outage is logged once, with no traceback; /readyz says what is the case; the end of the outage is seen."""

from __future__ import annotations

import threading

import pytest

from tests.outage import refuse_connections as _connections
from tests.outage import serving_as_app_role
from tests.servers import get

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
API = "/api/v1/environments/development"


@pytest.fixture
def served(roles):
    with serving_as_app_role(roles) as found:
        yield found


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
