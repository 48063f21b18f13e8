"""Long polls under ASGI that wait without a thread and without a database connection.

Django answers the long poll as it answers every request: the middleware, the bearer token, the rate limit, the
scope checks, and an immediate answer when something already changed. Only when the answer is to wait does
ChangesView call ``defer``: it takes a wait slot (429 beyond the limits, api/waits.py), leaves a ``Pending`` in
the request's ASGI scope and answers a placeholder marked with ``PENDING_HEADER``. ``DeferredWaits``, the ASGI
application around Django (config_site/asgi.py), holds that placeholder back and lets Django finish the request:
its thread, its database connection and ``request_finished`` all end there. Then the wait is a coroutine on the
event loop woken by the watcher (``runtime.await_change``), and the answer goes out with the placeholder's
headers (request id, security headers). A client that disconnects while waiting gives its slot back at once.

Outside ``DeferredWaits`` (``runserver``, gunicorn's gthread workers) ``defer`` returns None and the view waits on
its thread as before.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from rest_framework.response import Response

from .. import conf, runtime
from ..core.vocabulary import PENDING_HEADER
from ..observability import metrics, requestlog
from . import waits

SCOPE_KEY = "configurations.deferred_wait"
_DEFER = object()  # in the scope: this request may defer its wait
_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
_PENDING = PENDING_HEADER.lower().encode()
_REPLACED = {b"content-type", b"content-length", _PENDING}
logger = logging.getLogger("configurations.requests")


@dataclasses.dataclass
class Pending:
    """A long poll's wait, left by the view for the ASGI layer: what to wait for and how to answer."""

    environment: str
    ready: Callable[[Any], bool]
    answer: Callable[[Any], tuple[int, dict | None]]
    timeout: float
    release: Callable[[], None]
    started: float = dataclasses.field(default_factory=time.perf_counter)


def defer(request, token_id: int, environment: str, ready, answer, timeout: float) -> Response | None:
    """Under DeferredWaits: take a wait slot, leave the wait in the scope and return the placeholder to answer
    (Throttled when no slot is free). Elsewhere None: the caller waits on its thread."""
    scope = getattr(request, "scope", None)
    if not isinstance(scope, dict) or scope.get(SCOPE_KEY) is not _DEFER:
        return None
    release = waits.slots.take(token_id)
    scope[SCOPE_KEY] = Pending(environment, ready, answer, timeout, release)
    if not connection.in_atomic_block:
        connection.close()  # nothing more to read here: the wait holds no connection
    response = Response(status=200)
    response[PENDING_HEADER] = "1"
    return response


class DeferredWaits:
    """ASGI middleware: finishes on the event loop the long polls Django deferred (see the module's docstring), and
    lets at most ``CONFIG_SERVER_THREADS`` requests into Django at once. Django's ASGI handler gives every request a
    thread of its own: when a change answers 5,000 waiting polls and they all poll again at once, unbounded, 2,500
    threads per worker started together and starved the event loop until gunicorn killed the worker. The others
    wait for their turn on the loop, holding no thread; a waiting long poll is outside Django and holds no turn.
    The probes and ``/metrics`` never wait for a turn: they must answer during such a storm too."""

    def __init__(self, app) -> None:
        self.app = app
        self.turns: asyncio.Semaphore | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.turns is None:
            self.turns = asyncio.Semaphore(conf.server_threads())
        if scope["path"] in _PROBES:
            await self.app(scope, receive, send)  # never queued behind a storm of polls: a probe must answer
            return
        if not scope["path"].endswith("/changes/"):
            async with self.turns:
                await self.app(scope, receive, send)
            return
        scope = {**scope, SCOPE_KEY: _DEFER}
        held: dict[str, Any] = {}

        async def hold(message) -> None:
            if message["type"] == "http.response.start" and _has_pending_header(message):
                held["start"] = [(name, value) for name, value in message["headers"] if name.lower() not in _REPLACED]
            elif "start" not in held:
                await send(message)

        try:
            async with self.turns:
                await self.app(scope, receive, hold)
        finally:
            pending = scope.get(SCOPE_KEY)
            if isinstance(pending, Pending) and "start" not in held:
                pending.release()  # deferred, then failed later in Django: its answer was sent instead
        if "start" in held:
            await _finish(scope[SCOPE_KEY], held["start"], receive, send, scope["path"])


_bodies: dict[int, tuple[dict, bytes]] = {}


def _encoded(body: dict | None) -> bytes:
    """The JSON of an answer, as DRF renders it; encoded once for the many waiters that share one answer
    (api/changes.py hands them the same object)."""
    if body is None:
        return b""
    found = _bodies.get(id(body))
    if found is not None and found[0] is body:
        return found[1]
    if len(_bodies) >= 512:
        _bodies.clear()
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    _bodies[id(body)] = (body, payload)
    return payload


def _has_pending_header(message) -> bool:
    return any(name.lower() == _PENDING for name, _ in message.get("headers", ()))


async def _finish(pending: Pending, headers: list, receive, send, path: str) -> None:
    """Wait, then answer with the placeholder's headers (already without the ones the answer replaces); the slot,
    the metric and the log line once the event loop's pass is over (``_after_the_pass``)."""
    answered = False
    try:
        snapshot = await _change_or_disconnect(pending, receive)
        if snapshot is None:
            return  # the client went away
        status, body = pending.answer(snapshot)
        payload = _encoded(body)
        if body is not None:
            headers.append((b"content-type", b"application/json"))
        headers.append((b"content-length", str(len(payload)).encode()))  # as Django's CommonMiddleware sets it
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        _after_the_pass(pending, status, headers, path, time.perf_counter() - pending.started)
        answered = True
    finally:
        if not answered:
            pending.release()


# Answers whose bookkeeping waits for the end of the event loop's pass: a change wakes every waiting poll in one
# pass, and each answer's metric (a multi-process histogram: a write to a shared file) and slot release cost a
# fifth of its time (a py-spy profile of 2,500 answers), ahead of the answers still to go.
# By event loop: a loop closed before its pass ended cannot hold back another loop's books.
_bookkeeping: dict[asyncio.AbstractEventLoop, list[tuple]] = {}


def _after_the_pass(*answer) -> None:
    loop = asyncio.get_running_loop()
    books = _bookkeeping.get(loop)
    if books is None:
        books = _bookkeeping[loop] = []
        loop.call_soon(_keep_books, loop)
    books.append(answer)


def _keep_books(loop: asyncio.AbstractEventLoop) -> None:
    for pending, status, headers, path, elapsed in _bookkeeping.pop(loop, ()):
        try:
            pending.release()
            _observe(status, headers, path, elapsed)
        except Exception:  # the next answer's books are kept all the same
            logger.exception("long poll bookkeeping failed")


async def _change_or_disconnect(pending: Pending, receive):
    """The snapshot once it changed or the wait ran out; None if the client disconnected first (which cancels the
    wait). The listener for the disconnect is not cancelled: it ends by itself once the answer is sent (uvicorn's
    ``receive`` then says ``http.disconnect``), which costs the loop less than a cancellation."""
    task = asyncio.current_task()
    gone = asyncio.ensure_future(_disconnected(receive))

    def hung_up(done: asyncio.Future) -> None:
        if not done.cancelled():
            task.cancel()

    gone.add_done_callback(hung_up)
    try:
        return await runtime.await_change(pending.environment, pending.ready, pending.timeout)
    except asyncio.CancelledError:
        if not gone.done() or gone.cancelled():
            gone.cancel()
            raise  # cancelled from outside: the server is stopping
        task.uncancel()
        return None
    finally:
        gone.remove_done_callback(hung_up)


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _observe(status: int, headers, path: str, elapsed: float) -> None:
    """The long poll's metric and log line, as RequestObservabilityMiddleware writes them for other requests."""
    metrics.LONG_POLL_SECONDS.labels(status=status).observe(elapsed)
    request_id = next((value.decode() for name, value in headers if name.lower() == b"x-request-id"), "-")
    token = requestlog.bind(request_id)
    try:
        logger.info(
            "GET %s %s %.1fms", path, status, elapsed * 1000,
            extra={"method": "GET", "path": path, "status": status, "duration_ms": round(elapsed * 1000, 2)},
        )  # fmt: skip
    finally:
        requestlog.unbind(token)
