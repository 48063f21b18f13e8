"""The dispatcher's loop (``deliver_webhooks``): deliver what is due, then wait for the next change.

On PostgreSQL it wakes on the triggers' NOTIFY (a dedicated LISTEN session) and at least every ``interval``
seconds for retries that come due; on SQLite it polls every ``interval`` seconds. Finished deliveries and old
events are pruned once an hour. Any number of dispatchers may run at once (dispatch.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from django.db import connection
from django.utils import timezone

from ...data import listening
from . import dispatch

logger = logging.getLogger(__name__)
PRUNE_EVERY = 3600.0


@dataclasses.dataclass
class Report:
    """What one pass delivered: events fanned out, and attempts by outcome."""

    events: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)

    def add(self, outcome: dispatch.Outcome) -> None:
        """Count one attempt; a failure's message is kept (never a secret: URLs and HTTP statuses only)."""
        if outcome.state == "delivered":
            self.delivered += 1
            return
        self.dead += outcome.state == "dead"
        self.retrying += outcome.state != "dead"
        self.errors.append(f"delivery {outcome.delivery_id}: {outcome.answer.error}")


def deliver_due(*, retry_before=None) -> Report:
    """Fan out every waiting event and attempt every due delivery until nothing is left to do now (each delivery at
    most once per pass: a failure waits for its backoff)."""
    report = Report()
    while True:
        taken = dispatch.fan_out()
        report.events += taken
        claimed = dispatch.claim(retry_before=retry_before)
        for delivery_id, lease in claimed:
            report.add(dispatch.attempt(delivery_id, lease))
        if not taken and not claimed:
            return report


def run(
    *,
    once: bool = False,
    retry_now: bool = False,
    interval: float = 1.0,
    stop: threading.Event | None = None,
    on_pass: Callable[[Report], None] | None = None,
) -> Report:
    """Deliver until ``stop`` is set (or once, with ``once``); returns the last pass's report."""
    retry_before = timezone.now() if retry_now else None
    waiter = _Waiter(interval)
    if not once:
        waiter.listen()  # before the first pass: nothing committed during it goes unnoticed
    last_prune = 0.0
    try:
        while True:
            report = deliver_due(retry_before=retry_before)
            if on_pass is not None and (once or report.events or report.errors or report.delivered):
                on_pass(report)
            if once or (stop is not None and stop.is_set()):
                return report
            if time.monotonic() - last_prune > PRUNE_EVERY:
                dispatch.prune()
                last_prune = time.monotonic()
            waiter.wait(stop)
            if stop is not None and stop.is_set():
                return report
    finally:
        waiter.close()


class _Waiter:
    """Waits for a NOTIFY (PostgreSQL) or ``interval`` seconds, whichever comes first."""

    def __init__(self, interval: float):
        self.interval = interval
        self._listener = None

    def listen(self) -> None:
        """PostgreSQL: open the LISTEN session now, if it is not open (a failure is retried by ``wait``)."""
        if connection.vendor == "postgresql" and self._listener is None:
            with contextlib.suppress(Exception):
                self._listener = listening.listen(connection.settings_dict, "webhooks")

    def wait(self, stop: threading.Event | None) -> None:
        """Until a NOTIFY (PostgreSQL) or ``interval`` seconds, whichever comes first."""
        if connection.vendor != "postgresql":
            (stop.wait if stop is not None else time.sleep)(self.interval)
            return
        try:
            if self._listener is None:
                self._listener = listening.listen(connection.settings_dict, "webhooks")
            list(self._listener.notifies(timeout=self.interval, stop_after=1))
        except Exception as error:
            logger.warning("webhooks: LISTEN failed (%s); polling every %.1f s", error, self.interval)
            self.close()
            (stop.wait if stop is not None else time.sleep)(self.interval)

    def close(self) -> None:
        """Close the LISTEN session."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                listener.close()
