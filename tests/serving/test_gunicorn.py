"""The product served the way it is deployed: gunicorn workers on a free loopback port, started and stopped here.

Many workers, one truth (PostgreSQL): a change made through the admin over HTTP, or by SQL, reaches every worker
within 100 ms (read back through each worker's /readyz); each worker holds at most two connections and the master
none; the watcher may LISTEN through a URL of its own; a database outage is reported by /readyz while runtime
reads go on, and everything recovers after it. Static files: hashed and compressed by the production command.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from django.db import connection

from configurations import services
from configurations.data.models import ConfigurationHistory, SystemConfiguration
from tests.conftest import subprocess_env
from tests.factories import UserFactory
from tests.servers import ROOT, Client, Gunicorn, get

pytestmark = pytest.mark.django_db(transaction=True)
ENV = "development"
WITHIN = 0.100


@pytest.fixture
def served_env():
    # A pool of one connection per worker (CONFIG_DB_POOL_SIZE): the bound the connection tests check.
    return subprocess_env(CONFIG_RUNTIME_WATCH="1", CONFIG_ENVIRONMENT=ENV, CONFIG_DB_POOL_SIZE="1")


def newest_version() -> int:
    return ConfigurationHistory.objects.filter(environment=ENV).order_by("-id").values_list("id", flat=True)[0]


def sample_readyz(server: Gunicorn, *, parallel: int = 8) -> list[dict]:
    """One round of /readyz from several connections at once, so that every worker answers some."""
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        answers = list(pool.map(lambda _: get(server.url + "/readyz"), range(parallel)))
    return [answer.json() for answer in answers]


def all_workers_ready(server: Gunicorn, workers: int) -> dict[int, dict]:
    seen: dict[int, dict] = {}

    def probe():
        for body in sample_readyz(server):
            if body["status"] == "ok":
                seen[body["pid"]] = body
        return len(seen) >= workers

    server.wait_until(probe, timeout=30, what=f"{workers} workers ready")
    return seen


def time_until_every_worker_has(server: Gunicorn, version: int, since: float) -> float:
    """Seconds from ``since`` (wall clock) until the last worker installed ``version``, as each worker reports
    it in /readyz (``updated_at``): the visibility itself, whatever the time the probes take to reach them all."""
    pids = server.worker_pids()
    updated: dict[int, float] = {}

    def probe():
        for body in sample_readyz(server):
            figures = body["environments"].get(ENV, {})
            if figures.get("version", 0) >= version:
                updated.setdefault(body["pid"], figures["updated_at"])
        return set(updated) >= pids

    server.wait_until(probe, timeout=5, what=f"version {version} in every worker", interval=0)
    return max(updated.values()) - since


@pytest.mark.postgres
def test_four_workers_see_an_admin_change_and_an_sql_change_within_100ms(served_env):
    UserFactory(username="boss", password="boss-password-1", is_staff=True, is_superuser=True)
    row = services.set_value(category="smtp", key="host", environment=ENV, value="a.example.com")
    with Gunicorn(served_env, workers=4) as server:
        workers = all_workers_ready(server, 4)
        assert set(workers) == server.worker_pids()
        assert all(body["checks"] == dict.fromkeys(body["checks"], True) for body in workers.values())

        client = Client(server.url)
        client.login("boss", "boss-password-1")
        path = f"/admin/configurations/systemconfiguration/{row.pk}/change/"
        answer = client.submit(path, {"config_value": "b.example.com", "change_reason": "over HTTP"})
        changed_at = time.time()  # the commit happened before the answer: this bound is on the generous side
        assert answer.status == 302, answer.text[:3000]
        assert SystemConfiguration.objects.get(pk=row.pk).config_value == "b.example.com"
        by_admin = time_until_every_worker_has(server, newest_version(), changed_at)

        with connection.cursor() as cursor:
            cursor.execute("UPDATE system_configurations SET config_value = 'c.example.com' WHERE id = %s", [row.pk])
        changed_at = time.time()
        by_sql = time_until_every_worker_has(server, newest_version(), changed_at)
    print(f"every worker current after {by_admin * 1000:.1f} ms (admin), {by_sql * 1000:.1f} ms (SQL)")
    assert by_admin <= WITHIN and by_sql <= WITHIN


def connections_by_application(database: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT application_name, usename, count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND pid <> pg_backend_pid() GROUP BY 1, 2",
            [database],
        )
        return {(name, user): count for name, user, count in cursor.fetchall()}


@pytest.mark.postgres
def test_each_worker_holds_at_most_two_connections_and_the_master_none(served_env):
    """With a pool of one: each worker's pool and its watcher, however many requests came at once."""
    services.set_value(category="smtp", key="host", environment=ENV, value="a.example.com")
    with Gunicorn(served_env, workers=3) as server:
        all_workers_ready(server, 3)
        for _ in range(10):
            sample_readyz(server)
            client = Client(server.url)
            assert client.get("/admin/login/").status == 200
        found = connections_by_application(connection.settings_dict["NAME"])
        pids = server.worker_pids()
    per_process: dict[int, int] = {}
    for (name, _user), count in found.items():
        match = re.fullmatch(r"configurations-(?:watcher-)?(\d+)", name)
        assert match, f"a connection nobody owns: {name!r}"
        per_process[int(match.group(1))] = per_process.get(int(match.group(1)), 0) + count
    assert server.process.pid not in per_process
    assert set(per_process) == pids
    assert all(count <= 2 for count in per_process.values()), found


def test_workers_adopt_the_snapshot_the_master_loaded_before_forking(served_env):
    """The master loads once (gunicorn.conf.py, when_ready); each worker brings that copy up to date with a delta
    and loads nothing whole. CONFIG_RUNTIME_PRELOAD=false: each worker loads its own."""
    services.set_value(category="smtp", key="host", environment=ENV, value="a.example.com")
    with Gunicorn(served_env, workers=2) as server:
        ready = all_workers_ready(server, 2)
    assert {pid: body["snapshot_loads"]["full"] for pid, body in ready.items()} == dict.fromkeys(ready, 0)
    with Gunicorn({**served_env, "CONFIG_RUNTIME_PRELOAD": "false"}, workers=1) as server:
        ((_, body),) = all_workers_ready(server, 1).items()
    assert body["snapshot_loads"]["full"] == 1
    # The master froze nothing here: the worker itself keeps what it loaded (Django, the app, its snapshot) out of
    # the garbage collector, tens of thousands of objects that a full collection no longer walks.
    assert body["gc_frozen"] > 50_000


@pytest.mark.postgres
def test_the_watcher_listens_through_its_own_url(served_env):
    settings = connection.settings_dict
    listen_url = f"postgres://root@127.0.0.1:{settings['PORT'] or 5432}/{settings['NAME']}"
    services.set_value(category="smtp", key="host", environment=ENV, value="a.example.com")
    with Gunicorn({**served_env, "CONFIG_RUNTIME_LISTEN_URL": listen_url}, workers=1) as server:
        all_workers_ready(server, 1)
        found = connections_by_application(settings["NAME"])
        (pid,) = server.worker_pids()
        services.set_value(category="smtp", key="host", environment=ENV, value="b.example.com")
        assert time_until_every_worker_has(server, newest_version(), time.time()) <= 1.0
    assert found.get((f"configurations-watcher-{pid}", "root")) == 1
    assert found.get((f"configurations-{pid}", settings["USER"])) == 1


def _probe(server: Gunicorn) -> str:
    answer = get(server.url + "/test/runtime-reads")
    assert answer.status == 200, (answer.status, answer.text[:3000])
    return answer.json()["probe"]


def _server() -> dict:
    s = connection.settings_dict
    return {"user": s["USER"], "host": s["HOST"] or "127.0.0.1", "port": s["PORT"] or 5432}


class Traffic(threading.Thread):
    """Requests in a loop; records (time, path, status, body) of each."""

    def __init__(self, base_url: str, path: str) -> None:
        super().__init__(daemon=True)
        self.base_url, self.path = base_url, path
        self.results: list[tuple[float, int, str]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                answer = get(self.base_url + self.path, timeout=10)
                self.results.append((time.monotonic(), answer.status, answer.text))
            except OSError as error:
                self.results.append((time.monotonic(), 0, repr(error)))
            time.sleep(0.01)


@pytest.mark.postgres
def test_connections_terminated_during_requests(served_env):
    """An outage: connections to the test database refused and the existing ones terminated (this test's own
    connection excepted). Runtime reads never fail, /readyz says 503 while it lasts, a change made meanwhile is
    seen after it, requests after it succeed, and the watchers reconnect."""
    database = connection.settings_dict["NAME"]
    services.set_value(category="runtime", key="probe", environment=ENV, value="before")
    with Gunicorn({**served_env, "CONFIG_METRICS_TOKEN": "metrics-token"}, workers=2) as server:
        all_workers_ready(server, 2)
        reads = Traffic(server.url, "/test/runtime-reads")
        reads.start()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (mine,) = cursor.fetchone()
        # A database cannot refuse connections to itself: the outage is made from the maintenance database.
        maintenance = psycopg.connect(dbname="postgres", **_server(), autocommit=True)
        try:
            maintenance.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            maintenance.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                [database, mine],
            )
            outage = server.wait_until(
                lambda: [b for b in sample_readyz(server) if b["status"] == "unavailable"],
                timeout=10,
                what="/readyz reporting the outage",
            )
            assert outage[0]["checks"]["database"] is False
            services.set_value(category="runtime", key="probe", environment=ENV, value="during")
            time.sleep(0.5)
            assert all(b["status"] == "unavailable" for b in sample_readyz(server))
        finally:
            maintenance.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            maintenance.close()
        recovered_at = time.monotonic()
        all_workers_ready(server, 2)
        server.wait_until(
            lambda: all(_probe(server) == "during" for _ in range(8)),
            timeout=10,
            what="the change made during the outage in every worker",
        )
        after = [get(server.url + "/admin/login/").status for _ in range(10)]
        metrics = get(server.url + "/metrics", headers={"Authorization": "Bearer metrics-token"}).text
        reads.done.set()
        reads.join(timeout=10)
    assert reads.results and all(status == 200 for _, status, _ in reads.results), [
        r for r in reads.results if r[1] != 200
    ][:3]
    assert {json.loads(body)["probe"] for _, _, body in reads.results} >= {"before", "during"}
    assert after == [200] * 10
    assert float(re.search(r"^configurations_watcher_reconnects_total (\S+)$", metrics, re.M).group(1)) >= 2
    print(f"recovered in {(time.monotonic() - recovered_at) * 1000:.0f} ms")


def test_production_static_files_are_hashed_and_compressed_and_logs_are_json(served_env, tmp_path):
    """The production command's static files (collectstatic with CONFIG_STATIC_MANIFEST), served by WhiteNoise
    from gunicorn with DEBUG off; one JSON log line per request with the request id it answered with."""
    env = {**served_env, "CONFIG_STATIC_MANIFEST": "true", "STATIC_ROOT": str(tmp_path / "static")}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    services.set_value(category="smtp", key="auth_pass", environment=ENV, value="never-in-logs-1")
    with Gunicorn({**env, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}, workers=1) as server:
        login = get(server.url + "/admin/login/", headers={"X-Request-ID": "probe-123"})
        assert login.status == 200 and login.headers["X-Request-ID"] == "probe-123"
        assert "default-src 'self'" in login.headers["Content-Security-Policy"]
        css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.text)
        assert css, login.text[:2000]
        plain = get(server.url + css.group(1))
        packed = get(server.url + css.group(1), headers={"Accept-Encoding": "gzip"})
        server.wait_until(lambda: any('"probe-123"' in line for line in server.log), timeout=5, what="log line")
        log = list(server.log)
    assert plain.status == 200 and plain.headers["Content-Type"].startswith("text/css")
    assert "immutable" in plain.headers["Cache-Control"]
    assert packed.headers["Content-Encoding"] == "gzip" and len(packed.body) < len(plain.body)
    records = [json.loads(line) for line in log if line.startswith("{")]
    request_line = next(r for r in records if r.get("request_id") == "probe-123")
    assert request_line["path"] == "/admin/login/" and request_line["status"] == 200 and request_line["level"] == "INFO"
    assert not any("never-in-logs-1" in line for line in log)


def test_one_scrape_shows_every_worker_and_the_head_is_one_series(served_env):
    """prometheus-client's multiprocess mode for the runtime gauges: whichever worker answers, each scrape has
    the version and the watcher state of both workers; the chain head is a value, never a label that makes a new
    series per write; a long poll's time goes to its own histogram, not to the request latencies."""
    from configurations.services import tokens

    owner = UserFactory(username="scraper", is_superuser=True, is_staff=True)
    token = tokens.create_token(name="scrape", owner=owner, environments=[ENV]).plaintext
    services.set_value(category="runtime", key="probe", environment=ENV, value="one")
    with Gunicorn({**served_env, "CONFIG_METRICS_TOKEN": "metrics-token"}, workers=2, threads=2) as server:
        all_workers_ready(server, 2)
        pids = server.worker_pids()
        scrape = lambda: get(server.url + "/metrics", headers={"Authorization": "Bearer metrics-token"}).text  # noqa: E731
        heads = set()
        for round_ in range(6):
            text = scrape()
            for pid in pids:
                assert f'configurations_runtime_snapshot_version{{environment="{ENV}",pid="{pid}"}}' in text
                assert f'configurations_watcher_connected{{pid="{pid}"}} 1.0' in text
                assert (
                    f'configurations_runtime_snapshot_confirmed_timestamp_seconds{{environment="{ENV}",pid="{pid}"}}'
                    in text
                )
            heads |= set(re.findall(r"^configurations_history_head(\S*) ", text, re.M))
            services.set_value(category="runtime", key="probe", environment=ENV, value=f"v{round_}")
        assert heads == {""}  # one series, no labels, across six writes
        changes = server.url + f"/api/v1/environments/{ENV}/changes/"
        version = get(changes, headers={"Authorization": f"Bearer {token}"}).json()["version"]
        polled = get(f"{changes}?since={version + 10**6}&wait=0.3", headers={"Authorization": f"Bearer {token}"})
        assert polled.status == 304
        text = scrape()
    assert re.search(r'^configurations_api_long_poll_seconds_count\{status="304"\} 1\.0$', text, re.M), text
    api_latencies = re.findall(
        r'^configurations_http_request_seconds_count\{area="api",method="GET",status="(\d+)"\} (\S+)$', text, re.M
    )
    assert ("304", "1.0") not in api_latencies and ("200", "1.0") in api_latencies
