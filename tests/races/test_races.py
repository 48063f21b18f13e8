"""Concurrent writers on PostgreSQL: one create per key, no IntegrityError, no 500, no lost update.

Every write path takes the (category, environment) lock before it reads the rows it writes (data/locks.py), so
a second create sees the first's row and updates it, and the editor's stale-save check sees every key another
save added, first saves of an empty category included.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from configurations import services
from configurations.models import ConfigurationHistory, SystemConfiguration
from tests.conftest import subprocess_env
from tests.factories import MetadataFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(count: int, work) -> list:
    """Run ``work(index)`` in ``count`` threads released at once; return their results or exceptions."""
    barrier, results = threading.Barrier(count), [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:  # collected and asserted by the caller
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_thirty_threads_creating_one_new_key():
    results = run_together(
        30, lambda i: services.set_value(category="race", key="new", environment="test", value=f"thread-{i}")
    )
    assert [r for r in results if isinstance(r, Exception)] == []
    rows = list(ConfigurationHistory.objects.filter(category="race").order_by("id"))
    assert [r.action for r in rows] == ["create"] + ["update"] * 29  # one create; the others updated it
    assert len(rows) == 30  # history rows = successful writes
    final = SystemConfiguration.objects.get(category="race", config_key="new")
    assert final.config_value == rows[-1].new_value  # the later write wins


def test_ten_processes_creating_one_new_key():
    start = time.time() + 3
    script = (
        "import time, django; django.setup()\n"
        "from configurations import services\n"
        f"time.sleep(max(0, {start} - time.time()))\n"
        "import sys\n"
        "services.set_value(category='race', key='proc', environment='test', value=sys.argv[1])\n"
        "print('ok')\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script, f"process-{i}"], env=subprocess_env(), text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for i in range(10)
    ]  # fmt: skip
    outcomes = [process.communicate(timeout=60) for process in processes]
    assert [out.strip() for out, _ in outcomes] == ["ok"] * 10, [err[-300:] for _, err in outcomes if err]
    actions = list(ConfigurationHistory.objects.filter(config_key="proc").values_list("action", flat=True))
    assert sorted(actions) == ["create"] + ["update"] * 9


@pytest.fixture
def editors():
    for order, key in enumerate(("alpha", "beta")):
        MetadataFactory(category="fresh", config_key=key, display_name=key.title(), sort_order=order)
    admin = UserFactory(username="racer", is_staff=True, is_superuser=True)
    url = reverse("admin:configurations_category_edit", args=["fresh", "test"])

    def client() -> Client:
        c = Client()
        c.force_login(admin)
        return c

    return url, client


def test_ten_concurrent_first_saves_of_an_empty_category(editors):
    url, client = editors
    version = client().get(url).context["form"]["version"].value()
    clients = [client() for _ in range(10)]

    def save(index: int) -> int:
        data = {"version": version, "reason": f"first save {index}", "value__alpha": f"a{index}", "value__beta": "b"}
        return clients[index].post(url, data).status_code

    statuses = run_together(10, save)
    assert sorted(statuses) == [302] + [409] * 9, statuses  # one saves; the others are told it was stale
    assert ConfigurationHistory.objects.filter(category="fresh").count() == 2  # one save: alpha and beta


def test_two_stale_saves_adding_a_key_lose_nothing(editors):
    url, client = editors
    services.set_value(category="fresh", key="alpha", environment="test", value="existing")
    version = client().get(url).context["form"]["version"].value()
    clients = [client(), client()]

    def save(index: int) -> int:
        data = {
            "version": version,
            "reason": f"add beta {index}",
            "value__alpha": "existing",
            "value__beta": f"b{index}",
        }
        return clients[index].post(url, data).status_code

    statuses = run_together(2, save)
    assert sorted(statuses) == [302, 409], statuses
    beta = ConfigurationHistory.objects.filter(category="fresh", config_key="beta")
    assert beta.count() == 1  # the winner's create; the stale save wrote nothing over it
    winner = beta.get().change_reason.removeprefix("add beta ")
    assert services.get_value(category="fresh", key="beta", environment="test") == f"b{winner}"


def test_fifty_threads_updating_an_existing_key_all_succeed():
    services.set_value(category="race", key="old", environment="test", value="start")
    results = run_together(
        50, lambda i: services.set_value(category="race", key="old", environment="test", value=f"v{i}")
    )
    assert [r for r in results if isinstance(r, Exception)] == []
    updates = list(ConfigurationHistory.objects.filter(config_key="old", action="update").order_by("id"))
    assert len(updates) == 50
    # No lost update: each write changed the value the one before it wrote (two round trips, most of them falling
    # back to the locked path here), and all fifty values were written once.
    olds = [e.old_value for e in updates]
    assert olds == ["start", *(e.new_value for e in updates[:-1])]
    assert sorted(e.new_value for e in updates) == sorted(f"v{i}" for i in range(50))


def test_two_concurrent_applies_of_overlapping_change_requests_apply_exactly_one():
    from tests.factories import editor_of

    root = editor_of(username="race-root", is_superuser=True)
    services.set_value(category="smtp", key="host", environment="production", value="old.example.com")
    services.set_policy("production", approvals=1, actor=root)
    alice, bob = (editor_of("production", username=name) for name in ("race-alice", "race-bob"))
    requests = []
    for value in ("one.example.com", "two.example.com"):
        change = services.Change("smtp", "host", "production", value)
        request = services.open_request("production", [change], title=value, actor=alice).request
        requests.append(services.approve(request, actor=bob))
    results = run_together(2, lambda index: services.apply_request(requests[index]))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.state for r in results) == ["applied", "conflicted"]
    winner = next(r for r in results if r.state == "applied")
    assert services.get_value(category="smtp", key="host", environment="production") == winner.title
    assert ConfigurationHistory.objects.filter(config_key="host", environment="production").count() == 2
