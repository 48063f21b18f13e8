"""runtime.await_change (runtime/waiting.py): waiting for a change on an event loop, woken by the watcher, with no
thread per waiter; without a watcher, refreshing on a worker thread every poll interval."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from django.db import connection

from configurations import runtime, services
from configurations.runtime import waiting
from configurations.runtime.store import store

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("development_runtime")]


def _after(seconds: float, change) -> threading.Thread:
    def later():
        time.sleep(seconds)
        try:
            change()
        finally:
            connection.close()

    thread = threading.Thread(target=later)
    thread.start()
    return thread


def _changed_after(version: int):
    return lambda snapshot: snapshot.version > version


def test_a_hundred_waiters_are_woken_by_the_watcher_in_one_loop_without_a_thread_each(settings):
    settings.CONFIG_RUNTIME_WATCH = True
    services.set_value(category="smtp", key="host", environment="development", value="a")
    version = runtime.snapshot("development").version
    assert runtime.wait_until_following(10)
    threads_before = threading.active_count()

    async def main():
        waiters = [runtime.await_change("development", _changed_after(version), 10) for _ in range(100)]
        writer = _after(
            0.3, lambda: services.set_value(category="smtp", key="host", environment="development", value="b")
        )
        started = time.monotonic()
        await asyncio.sleep(0.1)
        during = threading.active_count()
        snapshots = await asyncio.gather(*waiters)
        writer.join()
        return snapshots, during, time.monotonic() - started

    snapshots, during, took = asyncio.run(main())
    assert during <= threads_before + 1  # the writer's thread, not one per waiter
    assert all(snapshot.version > version for snapshot in snapshots)
    assert {snapshot.by_category["smtp"]["host"] for snapshot in snapshots} == {"b"}
    assert took < 5  # woken by the change, not by the timeout


def test_a_waiter_that_times_out_leaves_the_others_waiting(settings):
    settings.CONFIG_RUNTIME_WATCH = True
    services.set_value(category="smtp", key="host", environment="development", value="a")
    version = runtime.snapshot("development").version
    assert runtime.wait_until_following(10)

    async def main():
        short = asyncio.ensure_future(runtime.await_change("development", _changed_after(version), 0.1))
        long = asyncio.ensure_future(runtime.await_change("development", _changed_after(version), 10))
        unchanged = await short
        assert not long.done()
        writer = _after(
            0, lambda: services.set_value(category="smtp", key="host", environment="development", value="c")
        )
        changed = await long
        writer.join()
        return unchanged, changed

    unchanged, changed = asyncio.run(main())
    assert unchanged.version == version
    assert changed.version > version and changed.by_category["smtp"]["host"] == "c"


def test_without_a_watcher_a_waiter_refreshes_every_poll_interval(settings):
    settings.CONFIG_RUNTIME_POLL_INTERVAL = 0.05
    services.set_value(category="smtp", key="host", environment="development", value="a")
    version = runtime.snapshot("development").version
    assert store.watcher is None

    async def main():
        writer = _after(
            0.2, lambda: services.set_value(category="smtp", key="host", environment="development", value="d")
        )
        started = time.monotonic()
        found = await runtime.await_change("development", _changed_after(version), 10)
        writer.join()
        return found, time.monotonic() - started

    found, took = asyncio.run(main())
    assert found.version > version and found.by_category["smtp"]["host"] == "d"
    assert took < 5


def test_a_closed_loop_stops_listening():
    loop = asyncio.new_event_loop()
    loop.run_until_complete(asyncio.sleep(0))
    listening = waiting._on(loop)
    assert listening.notify in store.listeners
    loop.close()
    listening.notify()  # what the watcher would call
    assert listening.notify not in store.listeners and loop not in waiting._loops
