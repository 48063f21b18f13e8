"""The ASGI application `make serve` runs (gunicorn with uvicorn workers, config_site/gunicorn.conf.py).

Django's ASGI handler, wrapped by ``DeferredWaits``: a long poll of the API's ``changes/`` waits on the event loop,
holding neither a thread nor a database connection (configurations/api/deferred.py). Everything else is Django as
under WSGI, each request's synchronous code on a thread of its own, entered once (``SyncChainHandler``).
"""

import os

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config_site.settings")
os.environ.setdefault("CONFIG_SERVER", "asgi")
django.setup(set_prefix=False)


class SyncChainHandler(ASGIHandler):
    """Django's ASGI handler with its middleware and view run in one hand-off to the request's thread.

    Every middleware and view here is synchronous. Django's own handler still ends the chain with its asynchronous
    ``_get_response_async``, so a request went loop -> thread (the middleware) -> loop (``async_to_sync``: resolve the
    URL) -> thread (each ``process_view``, then the view) -> loop -> thread -> loop. Loaded in synchronous mode, the
    chain ends with ``_get_response``, and the whole of it is one ``sync_to_async`` call on the same per-request
    thread (``thread_sensitive``, under the ``ThreadSensitiveContext`` that ``__call__`` opens). An asynchronous view
    would still run, through ``async_to_sync`` as under WSGI. docs/performance.md has the figures.
    """

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)


django_application = SyncChainHandler()

from configurations.api.deferred import DeferredWaits  # noqa: E402  (needs the apps loaded above)

application = DeferredWaits(django_application)
