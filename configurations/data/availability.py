"""Whether the database answers, as this process last saw it (docs/operations.md, "A database outage").

While it does not, reads are served from the runtime snapshot and the in-memory tokens (marked stale), and
everything that needs the database answers 503 with ``Retry-After``. This module keeps the outage's state so that
it is logged once when it starts and once when it ends, never once per request, and so that requests during an
outage do not each wait on a connection attempt: within ``RETRY_EVERY`` seconds of a failure the database is not
tried again. A connection made successfully (Django's ``connection_created``) ends the outage.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import InterfaceError, OperationalError
from django.db.backends.signals import connection_created

logger = logging.getLogger("configurations.database")
RETRY_AFTER = 5  # seconds, for clients (the Retry-After header)
RETRY_EVERY = 1.0  # seconds between this process's attempts while the database is away


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_since: float | None = None
        self.last_failure = 0.0


_state = _State()


def is_outage(error: BaseException) -> bool:
    """A connection that failed or broke, not a query that was wrong."""
    return isinstance(error, OperationalError | InterfaceError)


def failed(error: BaseException) -> None:
    """The database did not answer; the first failure of an outage is logged (its kind and first line)."""
    now = time.monotonic()
    with _state.lock:
        first = _state.down_since is None
        if first:
            _state.down_since = now
        _state.last_failure = now
    if first:
        reason = (str(error).strip().splitlines() or [""])[0][:200]
        logger.error(
            "The database is unreachable (%s: %s): reads are served from the runtime snapshot, everything else "
            "answers 503 until it is back.",
            type(error).__name__,
            reason,
        )


def recovered(**kwargs) -> None:
    """The database answers again: end the outage (logged once)."""
    with _state.lock:
        since, _state.down_since = _state.down_since, None
    if since is not None:
        logger.warning("The database is reachable again, after %.1f s.", time.monotonic() - since)


def down_for() -> float | None:
    """Seconds since the outage began, or None while the database answers."""
    since = _state.down_since
    return None if since is None else time.monotonic() - since


def recently_failed() -> bool:
    """Within RETRY_EVERY of a failure: do not try again yet."""
    return _state.down_since is not None and time.monotonic() - _state.last_failure < RETRY_EVERY


connection_created.connect(recovered)
