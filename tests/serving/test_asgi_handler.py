"""config_site/asgi.py's handler: a request's middleware and view run in one hand-off from the event loop to the
request's thread, and answer as Django's own handler does."""

from __future__ import annotations

import asyncio

import pytest
from django.core.handlers.asgi import ASGIHandler

from config_site.asgi import SyncChainHandler

pytestmark = pytest.mark.django_db(transaction=True)


def _serve(handler, path: str) -> tuple[list[dict], int]:
    """One GET of ``path`` through ``handler`` on a loop of its own: the messages sent, and how many times a thread
    handed something back to the loop (each hand-off's end, ``call_soon_threadsafe``)."""
    loop = asyncio.new_event_loop()
    handed_back = 0
    original = loop.call_soon_threadsafe

    def counted(*args, **kwargs):
        nonlocal handed_back
        handed_back += 1
        return original(*args, **kwargs)

    loop.call_soon_threadsafe = counted
    sent: list[dict] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000),
             "server": ("testserver", 80)}  # fmt: skip
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # no disconnect: the handler cancels this when it is done

    async def send(message):
        sent.append(message)

    try:
        loop.run_until_complete(handler(scope, receive, send))
    finally:
        loop.close()
    return sent, handed_back


def test_one_hand_off_for_the_middleware_and_the_view(settings):
    settings.ROOT_URLCONF = "tests.urls"
    ours = _serve(SyncChainHandler(), "/test/bare")
    django = _serve(ASGIHandler(), "/test/bare")
    # Ours: the request_started signal, the middleware with the view, the response's close and the end of the
    # request's thread. Django's own (7 with Django 5.2): the middleware, then back on the loop to resolve the URL,
    # then CSRF's process_view and the view, each a hand-off of its own.
    assert ours[1] == 4, ours[1]
    assert django[1] >= ours[1] + 3, django[1]
    assert ours[0] == django[0]
    assert ours[0][0]["status"] == 200 and ours[0][1]["body"] == b"ok"


def test_errors_answer_as_with_djangos_handler(settings):
    settings.ROOT_URLCONF = "tests.urls"
    ours, _ = _serve(SyncChainHandler(), "/no/such/page/")
    django, _ = _serve(ASGIHandler(), "/no/such/page/")
    assert ours[0]["status"] == django[0]["status"] == 404
    assert ours == django
