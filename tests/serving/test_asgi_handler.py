"""config_site/asgi.py's handler: a request's synchronous work in one hand-off from the event loop to a thread lent
for the request, with the same answers as Django's own handler, streamed ones included."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.http import StreamingHttpResponse
from django.test import override_settings
from django.urls import path

from config_site.asgi import SyncChainHandler
from tests.urls import urlpatterns as served

pytestmark = pytest.mark.django_db(transaction=True)
seen: list[tuple[str, int]] = []


def _streamed(request):
    seen.append(("view", threading.get_ident()))

    def parts():
        yield b"one,"
        yield b"two"

    return StreamingHttpResponse(parts())


def _recorded(request):
    from django.http import HttpResponse

    seen.append(("view", threading.get_ident()))
    return HttpResponse("recorded")


urlpatterns = [path("test/streamed", _streamed), path("test/recorded", _recorded), *served]


def _serve(handler, paths: list[str], *, together: bool = False, body: bytes = b"") -> tuple[list[list[dict]], int]:
    """GETs of ``paths`` through ``handler`` on a loop of its own (at once if ``together``): the messages sent for
    each, and how many times a thread handed something back to the loop (each hand-off's end)."""
    loop = asyncio.new_event_loop()
    handed_back = 0
    original = loop.call_soon_threadsafe

    def counted(*args, **kwargs):
        nonlocal handed_back
        handed_back += 1
        return original(*args, **kwargs)

    loop.call_soon_threadsafe = counted

    async def one(where: str) -> list[dict]:
        sent: list[dict] = []
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": where, "raw_path": where.encode(), "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000),
                 "server": ("testserver", 80)}  # fmt: skip
        requests = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            if requests:
                return requests.pop()
            await asyncio.Event().wait()  # no disconnect: the handler cancels this when it is done

        async def send(message):
            sent.append(message)

        await handler(scope, receive, send)
        return sent

    async def run() -> list[list[dict]]:
        if together:
            return list(await asyncio.gather(*(one(p) for p in paths)))
        return [await one(p) for p in paths]

    try:
        answers = loop.run_until_complete(run())
    finally:
        loop.close()
    return answers, handed_back


@pytest.fixture
def signalled():
    """The request_started and request_finished signals as they arrive, with their threads."""
    seen.clear()

    def started(**kwargs):
        seen.append(("started", threading.get_ident()))

    def finished(**kwargs):
        seen.append(("finished", threading.get_ident()))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    yield seen
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


def test_the_served_application_is_this_handler():
    """What gunicorn serves (config_site/asgi.py's ``application``): DeferredWaits around this handler."""
    from config_site import asgi

    assert type(asgi.django_application) is SyncChainHandler
    assert asgi.application.app is asgi.django_application


@override_settings(ROOT_URLCONF=__name__)
def test_one_hand_off_a_request():
    [ours], ours_handed = _serve(SyncChainHandler(), ["/test/bare"])
    [django], django_handed = _serve(ASGIHandler(), ["/test/bare"])
    # Django's own (7 with Django 5.2): the request_started signal, the middleware, then back on the loop to resolve
    # the URL, then CSRF's process_view and the view, the response's close, the end of the request's thread.
    assert ours_handed == 1, ours_handed
    assert django_handed >= 7, django_handed
    assert ours == django
    assert ours[0]["status"] == 200 and ours[1]["body"] == b"ok"


@override_settings(ROOT_URLCONF=__name__)
def test_the_signals_and_the_view_on_the_request_thread_which_is_lent_again(signalled):
    _serve(SyncChainHandler(), ["/test/recorded", "/test/recorded"])
    assert [what for what, _ in signalled] == ["started", "view", "finished"] * 2
    assert len({thread for _, thread in signalled}) == 1  # one thread, lent to the second request in turn
    assert threading.get_ident() not in {thread for _, thread in signalled}


@override_settings(ROOT_URLCONF=__name__)
def test_requests_at_once_each_have_a_thread(signalled):
    _serve(SyncChainHandler(), ["/test/recorded"] * 3, together=True)
    threads = {}
    for what, thread in signalled:
        threads.setdefault(thread, []).append(what)
    assert sorted(threads.values()) == [["started", "view", "finished"]] * 3


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
@override_settings(ROOT_URLCONF=__name__)
def test_a_streamed_answer_is_sent_whole_and_closed_after(signalled):
    [ours], _ = _serve(SyncChainHandler(), ["/test/streamed"])
    [django], _ = _serve(ASGIHandler(), ["/test/streamed"])
    assert ours == django
    assert b"".join(m.get("body", b"") for m in ours[1:]) == b"one,two"
    assert [what for what, _ in signalled].count("finished") == 2


@override_settings(ROOT_URLCONF=__name__)
def test_errors_answer_as_with_djangos_handler():
    [ours], _ = _serve(SyncChainHandler(), ["/no/such/page/"])
    [django], _ = _serve(ASGIHandler(), ["/no/such/page/"])
    assert ours[0]["status"] == django[0]["status"] == 404
    assert ours == django


@override_settings(ROOT_URLCONF=__name__, DATA_UPLOAD_MAX_MEMORY_SIZE=10)
def test_a_body_too_large_answers_as_with_djangos_handler():
    [ours], _ = _serve(SyncChainHandler(), ["/test/recorded"], body=b"x" * 100)
    [django], _ = _serve(ASGIHandler(), ["/test/recorded"], body=b"x" * 100)
    assert ours == django
