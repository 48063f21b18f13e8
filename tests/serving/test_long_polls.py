"""Long polls under `make serve`'s ASGI server (gunicorn with uvicorn workers, api/deferred.py), on both databases:
waiting costs no thread and no database connection, a change wakes every waiter, the answers are the ones the WSGI
server gives, the per-token limit answers 429 and a client that hangs up gives its slot back."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from configurations import services
from configurations.services import tokens
from tests.conftest import subprocess_env
from tests.factories import editor_of
from tests.servers import Gunicorn, get

pytestmark = pytest.mark.django_db(transaction=True)
WAITERS = 100
CHANGES = "/api/v1/environments/development/changes/"


def _env(**extra):
    # SQLite has no notifications: its watcher polls, here every 20 ms.
    return subprocess_env(
        CONFIG_RUNTIME_WATCH="1", CONFIG_ENVIRONMENT="development", CONFIG_RUNTIME_POLL_INTERVAL="0.02",
        CONFIG_DB_POOL_SIZE="2", CONFIG_METRICS_TOKEN="metrics-token", **extra,
    )  # fmt: skip


def _token(name: str) -> dict[str, str]:
    owner = editor_of("development", username=f"owner-{name}")
    plaintext = tokens.create_token(name=name, owner=owner, environments=["development"]).plaintext
    return {"Authorization": f"Bearer {plaintext}"}


def _threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def _connections(pid: int) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT application_name FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name LIKE %s",
            [f"configurations%-{pid}"],
        )
        return sorted(name for (name,) in cursor.fetchall())


@pytest.fixture
def values():
    services.set_value(category="smtp", key="host", environment="development", value="a.example.com")
    services.set_value(category="app", key="mode", environment="development", value="calm")


def _poll_all(url: str, auth: dict, count: int, wait: int) -> tuple[list[threading.Thread], list]:
    answered: list[tuple[float, int, bytes]] = []

    def poll():
        answer = get(f"{url}&wait={wait}", headers=auth, timeout=wait + 20)
        answered.append((time.monotonic(), answer.status, answer.body))

    pollers = [threading.Thread(target=poll) for _ in range(count)]
    for poller in pollers:
        poller.start()
    return pollers, answered


def test_a_hundred_waiting_long_polls_hold_no_thread_and_no_connection(values):
    """One worker, a pool of 2: 100 long polls wait while the worker's threads and database connections stay what
    they were with none, the category read and /healthz answer at once, and one commit answers all 100."""
    auth = _token("many")
    with Gunicorn(_env(), workers=1, asgi=True) as server:
        server.wait_until(lambda: get(server.url + "/readyz").status == 200, timeout=30, what="ready")
        (pid,) = server.worker_pids()
        version = get(server.url + CHANGES, headers=auth).json()["version"]
        idle_threads = _threads(pid)
        idle_connections = _connections(pid) if connection.vendor == "postgresql" else []
        pollers, answered = _poll_all(f"{server.url}{CHANGES}?since={version}", auth, WAITERS, 20)
        server.wait_until(lambda: "waiting 100" in _waiting(server), timeout=20, what="100 polls waiting")
        assert not answered
        # Not one per waiter: at most the event loop's default executor (min(32, cores + 4) threads, which Django's
        # async signals and the refreshes use) and a request's thread or two.
        assert _threads(pid) <= idle_threads + 10 < WAITERS
        if connection.vendor == "postgresql":
            held = _connections(pid)
            assert held == idle_connections and len(held) <= 3, held  # the pool's (at most 2) and the watcher's
        read_at = time.monotonic()
        category = get(server.url + "/api/v1/environments/development/categories/smtp/", headers=auth)
        assert category.status == 200 and get(server.url + "/healthz").status == 200
        assert time.monotonic() - read_at < 1.0
        services.set_value(category="smtp", key="host", environment="development", value="b.example.com")
        changed_at = time.monotonic()
        for poller in pollers:
            poller.join(timeout=30)
        assert len(answered) == WAITERS
        assert {(status, body) for _, status, body in answered} == {
            (200, b'{"version":%d,"changed":["smtp"]}' % (version + 1))
        }
        delay = max(at for at, _, _ in answered) - changed_at
        print(f"{WAITERS} long polls answered within {delay * 1000:.1f} ms of the commit")
        assert delay < 2.0
        # The slots, the metric and the log line are kept once the answers are out (api/deferred.py), not dropped.
        server.wait_until(lambda: _waiting(server) == "waiting 0", timeout=5, what="every slot given back")
        text = get(server.url + "/metrics", headers={"Authorization": "Bearer metrics-token"}).text
        assert f'configurations_api_long_poll_seconds_count{{status="200"}} {WAITERS}.0' in text


def _waiting(server) -> str:
    """The metric of long polls waiting, as /metrics shows it."""
    text = get(server.url + "/metrics", headers={"Authorization": "Bearer metrics-token"}).text
    waiting = [line for line in text.splitlines() if line.startswith("configurations_api_long_polls_waiting")]
    return " ".join(f"waiting {int(float(line.split()[-1]))}" for line in waiting)


def test_the_asgi_answers_are_the_wsgi_answers(values):
    """A change already there, one made while waiting, a quiet 304 and a bad request: the same statuses, bodies and
    headers from both servers (but the date, the request id and the server's name)."""
    auth = _token("same")
    answers = {}
    for asgi in (False, True):
        with Gunicorn(_env(), workers=1, threads=2, asgi=asgi) as server:
            server.wait_until(lambda s=server: get(s.url + "/readyz").status == 200, timeout=30, what="ready")
            version = get(server.url + CHANGES, headers=auth).json()["version"]
            pollers, answered = _poll_all(f"{server.url}{CHANGES}?since={version}", auth, 1, 10)
            time.sleep(0.5)
            services.set_value(category="app", key="mode", environment="development", value=f"busy-{asgi}")
            pollers[0].join(timeout=20)
            runs = [answered[0][1:]]
            for query in (f"since={version}&wait=0", f"since={version + 1}&wait=1", "since=x"):
                answer = get(f"{server.url}{CHANGES}?{query}", headers=auth)
                runs.append((answer.status, answer.body, _comparable(answer.headers)))
            answers[asgi] = (version, runs)
    (wsgi_version, wsgi), (asgi_version, asgi) = answers[False], answers[True]
    assert asgi_version == wsgi_version + 1
    assert asgi[0] == (200, b'{"version":%d,"changed":["app"]}' % (asgi_version + 1))
    assert wsgi[0] == (200, b'{"version":%d,"changed":["app"]}' % (wsgi_version + 1))
    assert [status for status, *_ in asgi[1:]] == [status for status, *_ in wsgi[1:]] == [200, 304, 400]
    assert [headers for *_, headers in asgi[1:]] == [headers for *_, headers in wsgi[1:]]


def _comparable(headers) -> dict[str, str]:
    skip = {"date", "x-request-id", "server", "content-security-policy", "connection", "keep-alive", "expires"}
    return {name.lower(): value for name, value in headers.items() if name.lower() not in skip}


def test_the_per_token_limit_answers_429_and_a_hung_up_client_gives_its_slot_back(values):
    auth = _token("bounded")
    with Gunicorn(_env(CONFIG_API_MAX_WAITS_PER_TOKEN="2"), workers=1, asgi=True) as server:
        server.wait_until(lambda: get(server.url + "/readyz").status == 200, timeout=30, what="ready")
        version = get(server.url + CHANGES, headers=auth).json()["version"]
        hung_up = _raw_poll(server.port, f"{CHANGES}?since={version}&wait=30", auth)
        pollers, answered = _poll_all(f"{server.url}{CHANGES}?since={version}", auth, 1, 2)
        server.wait_until(lambda: "waiting 2" in _waiting(server), timeout=10, what="2 polls waiting")
        refused = get(f"{server.url}{CHANGES}?since={version}&wait=5", headers=auth)
        assert refused.status == 429 and refused.headers["Retry-After"] == "2"
        assert "long polls waiting" in refused.json()["detail"]
        hung_up.close()
        server.wait_until(lambda: "waiting 1" in _waiting(server), timeout=5, what="the slot given back")
        again = get(f"{server.url}{CHANGES}?since={version}&wait=1", headers=auth)
        assert again.status == 304
        pollers[0].join(timeout=10)
        assert [status for _, status, _ in answered] == [304]


def _raw_poll(port: int, path: str, auth: dict) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth['Authorization']}\r\n\r\n"
    sock.sendall(request.encode())
    return sock


def test_a_burst_of_requests_runs_on_a_bounded_number_of_threads(values):
    """400 requests at once on one worker of 1 thread (`CONFIG_SERVER_THREADS`): they take turns on the event
    loop instead of a thread each (a change answering thousands of polls that all poll again at once had started
    a thread per request and starved the loop until gunicorn killed the worker); /healthz answers meanwhile."""
    auth = _token("burst")
    with Gunicorn(_env(), workers=1, threads=1, asgi=True) as server:
        server.wait_until(lambda: get(server.url + "/readyz").status == 200, timeout=30, what="ready")
        (pid,) = server.worker_pids()
        idle = _threads(pid)
        sockets = [
            _raw_poll(server.port, "/api/v1/environments/development/categories/smtp/", auth) for _ in range(400)
        ]
        probed_at = time.monotonic()
        assert get(server.url + "/healthz").status == 200  # probes never wait for a turn
        assert time.monotonic() - probed_at < 1.0
        most = idle
        answered = 0
        for sock in sockets:
            sock.settimeout(30)
            most = max(most, _threads(pid))
            answered += sock.recv(12).startswith(b"HTTP/1.1 200")
            sock.close()
        assert answered == 400
        assert most <= idle + 10 < 400, (idle, most)
        assert server.worker_pids() == {pid}
