"""The ASGI application `make serve` runs (gunicorn with uvicorn workers, config_site/gunicorn.conf.py).

Django's ASGI handler, wrapped by ``DeferredWaits``: a long poll of the API's ``changes/`` waits on the event loop,
holding neither a thread nor a database connection (configurations/api/deferred.py). Everything else is Django as
under WSGI: each request's synchronous code in one hand-off to a thread of its own (``SyncChainHandler``).
"""

import os
from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config_site.settings")
os.environ.setdefault("CONFIG_SERVER", "asgi")
django.setup(set_prefix=False)


class SyncChainHandler(ASGIHandler):
    """Django's ASGI handler with each request's synchronous work in one hand-off to a thread it has to itself.

    Every middleware and view here is synchronous, yet Django's own handler goes loop -> thread -> loop -> thread ...
    seven times a request: the ``request_started`` signal, the middleware, back on the loop for the URL (its chain
    ends with the asynchronous ``_get_response_async``), each ``process_view`` and the view, the response's
    ``close``, and the end of the thread it started for the request. Here the chain is loaded in synchronous mode
    and one call runs the signal, the middleware, the view and, for a response whose body is already in memory, its
    ``close`` (``request_finished``: the connection goes back to the pool before the answer is sent rather than
    after). The loop reads the body and sends the answer. The thread is one of the
    worker's, lent for the request (``ThreadSensitiveContext`` with an executor: thread-sensitive code of the
    request still runs on one thread, and never on another request's at the same time), not started and joined per
    request. A streamed answer (a static file) is sent and closed as Django's handler does. A client that
    disconnects is not watched for while the view runs (a synchronous view cannot be stopped midway anyway);
    ``DeferredWaits`` watches a long poll's. docs/performance.md has the figures.
    """

    def __init__(self) -> None:
        self._idle: list[ThreadPoolExecutor] = []  # single-thread executors, each lent to one request at a time
        super().__init__()

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self._idle.pop() if self._idle else _single_thread()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self._idle.append(executor)

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await sync_to_async(self._respond, thread_sensitive=True)(scope, body_file)
            try:
                await self.send_response(response, send)
            finally:
                if response.streaming:
                    await sync_to_async(response.close, thread_sensitive=True)()
        finally:
            body_file.close()

    def _respond(self, scope, body_file):
        """The response to the request in ``scope``, on the request's thread; closed unless it streams."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            response.close()
        return response


def _single_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")


django_application = SyncChainHandler()

from configurations.api.deferred import DeferredWaits  # noqa: E402  (needs the apps loaded above)

application = DeferredWaits(django_application)
