"""How many long polls may wait at once: per token and per process (429 with Retry-After beyond either).

Under WSGI (``runserver``, gunicorn's gthread workers) a waiting long poll holds a server thread for up to ``wait``
seconds: unbounded, twelve polls from one token took every thread of a default server, and ``/healthz`` and every
other token's reads queued behind them. Under ASGI (``make serve``; api/deferred.py) a wait holds no thread, yet
stays bounded. Two bounds, counted in this process: ``CONFIG_API_MAX_WAITS_PER_TOKEN`` (default 2 per token under
WSGI, 1,000 under ASGI) and ``CONFIG_API_MAX_WAITS`` (default: the server's threads minus one under WSGI, so that
one thread is always left for probes and ordinary reads; 10,000 under ASGI).
A poll refused a slot is answered at once with 429 and ``Retry-After``; nothing else ever waits for a slot.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator

from rest_framework import exceptions

from .. import conf
from ..observability import metrics

RETRY_AFTER = 2  # seconds: a client retries after this, by when a slot is likely free


class Slots:
    """Long polls waiting at once: per token and per process, so a thread is always left."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_token: Counter[int] = Counter()
        self.total = 0

    @contextlib.contextmanager
    def held(self, token_id: int) -> Iterator[None]:
        """Hold a slot for the block; Throttled (429, Retry-After) at once if there is none."""
        release = self.take(token_id)
        try:
            yield
        finally:
            release()

    def take(self, token_id: int) -> Callable[[], None]:
        """Take a slot; the function that gives it back (once). Throttled (429, Retry-After) if there is none."""
        with self._lock:
            if self.by_token[token_id] >= conf.api_max_waits_per_token():
                raise _refused(f"This token already has {self.by_token[token_id]} long polls waiting (the limit).")
            if self.total >= conf.api_max_waits():
                raise _refused("This server has no room for another long poll now.")
            self.by_token[token_id] += 1
            self.total += 1
        metrics.LONG_POLLS_WAITING.inc()
        given_back = []

        def release() -> None:
            with self._lock:
                if given_back:
                    return
                given_back.append(True)
                self.total -= 1
                self.by_token[token_id] -= 1
                if not self.by_token[token_id]:
                    del self.by_token[token_id]
            metrics.LONG_POLLS_WAITING.dec()

        return release


def _refused(detail: str) -> exceptions.Throttled:
    return exceptions.Throttled(wait=RETRY_AFTER, detail=f"{detail} Retry after {RETRY_AFTER} seconds.")


slots = Slots()
