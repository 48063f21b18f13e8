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

from .conftest import subprocess_env
from .factories import editor_of
from .serving import Gunicorn, get

pytestmark = pytest.mark.django_db(transaction=True)
WITHIN = 0.100


@pytest.fixture
def served():
    # SQLite has no notifications: its watcher polls, here every 20 ms so that 100 ms can hold there too.
    env = subprocess_env(
        CONFIG_RUNTIME_WATCH="1", CONFIG_ENVIRONMENT="development", CONFIG_RUNTIME_POLL_INTERVAL="0.02"
    )
    owner = editor_of("development", username="poller")
    services.set_value(category="smtp", key="host", environment="development", value="a.example.com")
    token = tokens.create_token(name="poller", owner=owner, environments=["development"]).plaintext
    with Gunicorn(env, workers=1, threads=4) as server:
        server.wait_until(lambda: get(server.url + "/readyz").status == 200, timeout=30, what="ready")
        yield server, {"Authorization": f"Bearer {token}"}


def test_the_long_poll_is_woken_by_another_process_within_100ms(served):
    server, auth = served
    path = server.url + "/api/v1/environments/development/changes/"
    version = get(path, headers=auth).json()["version"]
    answered = {}

    def poll():
        answer = get(f"{path}?since={version}&wait=20", headers=auth, timeout=30)
        answered.update(at=time.monotonic(), status=answer.status, body=answer.json())

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)  # the poll is waiting
    assert not answered
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT application_name FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            names = [name for (name,) in cursor.fetchall()]
        assert names == [f"configurations-watcher-{next(iter(server.worker_pids()))}"], names  # no request connection
    services.set_value(category="smtp", key="host", environment="development", value="b.example.com")
    changed_at = time.monotonic()
    poller.join(timeout=25)
    assert answered["status"] == 200 and answered["body"]["changed"] == ["smtp"]
    assert answered["body"]["version"] > version
    delay = answered["at"] - changed_at
    print(f"long poll answered {delay * 1000:.1f} ms after the commit")
    assert delay <= WITHIN


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


def test_with_the_watcher_following_a_read_is_one_query(client, settings, django_assert_num_queries):
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
        with django_assert_num_queries(1):  # the token (with its owner); values come from the snapshot
            answer = client.get(path, **auth)
        assert json.loads(answer.content)["values"] == {"port": 587}
    finally:
        runtime.reset()
