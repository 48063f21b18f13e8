"""The API served by gunicorn (threads, watchers), on both databases: the long poll is woken by a change made in
another process within 100 ms and holds no database connection while it waits; a read with the watcher
following costs one query, the token's."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection

from configurations import runtime, services
from configurations.services import tokens
from tests.conftest import subprocess_env
from tests.factories import editor_of
from tests.servers import Gunicorn, get

pytestmark = pytest.mark.django_db(transaction=True)
WITHIN = 0.100


@pytest.fixture
def served():
    # SQLite has no notifications: its watcher polls, here every 20 ms so that 100 ms can hold there too.
    env = subprocess_env(
        CONFIG_RUNTIME_WATCH="1", CONFIG_ENVIRONMENT="development", CONFIG_RUNTIME_POLL_INTERVAL="0.02",
        CONFIG_API_MAX_WAITS_PER_TOKEN="3",
    )  # fmt: skip
    owner = editor_of("development", username="poller")
    services.set_value(category="smtp", key="host", environment="development", value="a.example.com")
    token = tokens.create_token(name="poller", owner=owner, environments=["development"]).plaintext
    with Gunicorn(env, workers=1, threads=4, asgi=False) as server:
        server.wait_until(lambda: get(server.url + "/readyz").status == 200, timeout=30, what="ready")
        yield server, {"Authorization": f"Bearer {token}"}


def test_the_long_poll_is_woken_by_another_process_within_100ms(served):
    """Three long polls take all the threads of the worker that long polls may take (all but one of four): while
    they wait, the worker holds no connection but its watcher's; a change committed by this process answers every
    one of them within 100 ms."""
    server, auth = served
    path = server.url + "/api/v1/environments/development/changes/"
    version = get(path, headers=auth).json()["version"]
    answered: list[tuple[float, int, dict]] = []

    def poll():
        answer = get(f"{path}?since={version}&wait=20", headers=auth, timeout=30)
        answered.append((time.monotonic(), answer.status, answer.json()))

    pollers = [threading.Thread(target=poll) for _ in range(3)]
    for poller in pollers:
        poller.start()
    time.sleep(0.5)  # every poll is waiting
    assert not answered
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT application_name FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            names = [name for (name,) in cursor.fetchall()]
        assert names == [f"configurations-watcher-{next(iter(server.worker_pids()))}"], names
    services.set_value(category="smtp", key="host", environment="development", value="b.example.com")
    changed_at = time.monotonic()
    for poller in pollers:
        poller.join(timeout=25)
    assert len(answered) == 3
    assert all(
        status == 200 and body["changed"] == ["smtp"] and body["version"] > version for _, status, body in answered
    )
    delay = max(at for at, _, _ in answered) - changed_at
    print(f"3 long polls answered within {delay * 1000:.1f} ms of the commit")
    assert delay <= WITHIN


def test_a_revoked_token_or_a_deactivated_owner_is_refused_by_every_worker_at_once(served):
    server, auth = served
    path = server.url + "/api/v1/environments/development/categories/smtp/"
    assert get(path, headers=auth).status == 200  # the worker now authenticates from memory
    tokens.revoke_token("poller")
    revoked_at = time.monotonic()
    server.wait_until(lambda: get(path, headers=auth).status == 401, timeout=5, what="401 after revoking")
    assert time.monotonic() - revoked_at <= WITHIN
    owner = editor_of("development", username="second-owner")
    second = {
        "Authorization": "Bearer "
        + tokens.create_token(name="second", owner=owner, environments=["development"]).plaintext
    }
    server.wait_until(lambda: get(path, headers=second).status == 200, timeout=5, what="a new token accepted")
    owner.is_active = False
    owner.save()
    deactivated_at = time.monotonic()
    server.wait_until(lambda: get(path, headers=second).status == 401, timeout=5, what="401 after deactivating")
    assert time.monotonic() - deactivated_at <= WITHIN


def test_a_quiet_long_poll_answers_304_when_its_wait_ends_and_others_are_served_meanwhile(served):
    server, auth = served
    path = server.url + "/api/v1/environments/development/changes/"
    version = get(path, headers=auth).json()["version"]
    results = []
    pollers = [
        threading.Thread(target=lambda: results.append(get(f"{path}?since={version}&wait=1", headers=auth).status))
        for _ in range(2)
    ]
    started = time.monotonic()
    for poller in pollers:
        poller.start()
    time.sleep(0.1)
    # Two threads wait; the others answer at once.
    category = get(server.url + "/api/v1/environments/development/categories/smtp/", headers=auth)
    assert category.status == 200 and time.monotonic() - started < 0.9
    for poller in pollers:
        poller.join(timeout=10)
    assert results == [304, 304] and time.monotonic() - started >= 1.0


def test_twelve_long_polls_from_one_token_leave_probes_and_other_tokens_served(tmp_path):
    """The default limits (2 waits per token, the worker's threads minus one in all), on a default server of one
    worker: one token's flood gets 429 with Retry-After at once beyond its two waits, and /healthz, /readyz and
    another token's read and long poll are answered meanwhile. gunicorn leaves no control socket in $HOME."""
    env = subprocess_env(CONFIG_RUNTIME_WATCH="1", CONFIG_ENVIRONMENT="development", HOME=str(tmp_path),
                         XDG_RUNTIME_DIR=str(tmp_path))  # fmt: skip
    owner = editor_of("development", username="flooder")
    services.set_value(category="smtp", key="host", environment="development", value="a.example.com")
    flood, other = (
        {"Authorization": "Bearer " + tokens.create_token(name=n, owner=owner, environments=["development"]).plaintext}
        for n in ("flood", "other")
    )
    with Gunicorn(env, workers=1, threads=4, asgi=False) as server:
        server.wait_until(lambda: get(server.url + "/readyz").status == 200, timeout=30, what="ready")
        changes = server.url + "/api/v1/environments/development/changes/"
        version = get(changes, headers=flood).json()["version"]
        answers: list[tuple[float, object]] = []
        started = time.monotonic()

        def poll(headers, wait):
            answer = get(f"{changes}?since={version}&wait={wait}", headers=headers, timeout=30)
            answers.append((time.monotonic() - started, answer))

        pollers = [threading.Thread(target=poll, args=(flood, 3)) for _ in range(12)]
        for poller in pollers:
            poller.start()
        time.sleep(0.5)
        refused = [answer for _, answer in answers]
        assert len(refused) == 10 and all(a.status == 429 and a.headers["Retry-After"] == "2" for a in refused)
        assert all("long polls waiting" in a.json()["detail"] for a in refused)
        probe_at = time.monotonic()
        assert get(server.url + "/healthz").status == 200 and get(server.url + "/readyz").status == 200
        read = get(server.url + "/api/v1/environments/development/categories/smtp/", headers=other)
        assert read.status == 200 and time.monotonic() - probe_at < 1.0
        poll(other, 0.2)  # the third and last slot: another token may still wait
        assert answers[-1][1].status == 304
        for poller in pollers:
            poller.join(timeout=20)
        waited = [(at, a.status) for at, a in answers if a.status != 429 and a.headers.get("Retry-After") is None]
        assert sorted(status for _, status in waited) == [304, 304, 304]
        assert not (tmp_path / ".gunicorn").exists() and not list(tmp_path.glob("*.ctl"))


def test_with_the_watcher_following_a_read_costs_no_query(client, settings, django_assert_num_queries):
    settings.CONFIG_RUNTIME_WATCH = True
    settings.CONFIG_ENVIRONMENT = "development"
    runtime.reset()
    owner = editor_of("development", username="counted")
    services.set_value(category="smtp", key="port", environment="development", value="587", value_type="number")
    token = tokens.create_token(name="counted", owner=owner, environments=["development"]).plaintext
    path = "/api/v1/environments/development/categories/smtp/"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    try:
        assert client.get(path, **auth).status_code == 200  # loads the snapshot, starts the watcher
        deadline = time.monotonic() + 10
        while not runtime.status()["watcher_connected"]:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert client.get(path, **auth).status_code == 200  # loads the tokens into memory (one query, once)
        # Tokens and values come from memory, kept fresh by the watcher ("last used" is written once a minute).
        with django_assert_num_queries(0):
            answer = client.get(path, **auth)
        assert json.loads(answer.content)["values"] == {"port": 587}
    finally:
        runtime.reset()
