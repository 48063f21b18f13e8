"""A watcher under a stream of commits (PostgreSQL): at most one refresh per ``CONFIG_RUNTIME_REFRESH_SPACING``, no
notification of the commits it holds back (it stops listening to them meanwhile), the last commit still served, and
a token's change never held back."""

from __future__ import annotations

import time

import pytest
from prometheus_client import REGISTRY

from configurations import runtime, services
from configurations.runtime.store import store
from configurations.services import tokens
from tests.factories import editor_of

# PostgreSQL only: an SQLite watcher polls every CONFIG_RUNTIME_POLL_INTERVAL.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
BOUND = 5.0


@pytest.fixture
def watching(settings):
    """A real watcher thread of this process following the test environment, with the spacing the test sets."""
    settings.CONFIG_ENVIRONMENT = "test"
    settings.CONFIG_RUNTIME_WATCH = True
    runtime.reset()
    services.set_value(category="spacing", key="k", environment="test", value="0")

    def start(spacing: float) -> None:
        settings.CONFIG_RUNTIME_REFRESH_SPACING = spacing
        assert runtime.get("spacing", "k") == "0"  # loads the environment and starts the watcher
        assert runtime.wait_until_following(BOUND)

    yield start
    runtime.reset()


def _until(predicate, timeout: float = BOUND) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "not seen in time"
        time.sleep(0.005)
    return time.monotonic() - started


def _notifications() -> float:
    return REGISTRY.get_sample_value("configurations_watcher_notifications_total") or 0.0


def test_a_stream_of_commits_costs_one_refresh_per_spacing_and_the_last_is_served(watching):
    watching(0.25)
    deltas, notifications, started = store.deltas, _notifications(), time.monotonic()
    for i in range(1, 31):
        services.set_value(category="spacing", key="k", environment="test", value=str(i))
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    _until(lambda: runtime.get("spacing", "k") == "30", BOUND)
    refreshes = store.deltas - deltas
    # One refresh per notification would be about 30; spaced, one on the first commit and one per 0.25 s after it.
    assert 2 <= refreshes <= elapsed / 0.25 + 2, (refreshes, elapsed)
    # Listening all along, the watcher would have been sent all 30; not listening while it holds them back, about
    # one a refresh (the one that starts each pause, and any already on their way).
    received = _notifications() - notifications
    assert received <= 2 * refreshes + 2, (received, refreshes)


def test_a_token_change_is_not_held_back_by_the_spacing(watching):
    watching(5.0)
    owner = editor_of("test", username="spaced")
    issued = tokens.create_token(name="spaced", owner=owner, environments=["test"])
    digest = tokens.digest(issued.plaintext)
    _until(lambda: runtime.token_grant(digest) not in (None, runtime.NOT_FOLLOWING))
    services.set_value(category="spacing", key="k", environment="test", value="1")  # refreshed at once
    _until(lambda: runtime.get("spacing", "k") == "1")
    services.set_value(category="spacing", key="k", environment="test", value="2")  # held back for 5 s
    tokens.revoke_token("spaced")
    assert _until(lambda: runtime.token_grant(digest) is None) < 2.0  # not after the 5 s the value waits
    _until(lambda: runtime.get("spacing", "k") == "2")  # what was held back is refreshed with it
