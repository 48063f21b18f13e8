"""The ASGI application `make serve` runs (gunicorn with uvicorn workers, config_site/gunicorn.conf.py).

Django's ASGI handler, wrapped by ``DeferredWaits``: a long poll of the API's ``changes/`` waits on the event loop,
holding neither a thread nor a database connection (configurations/api/deferred.py). Everything else is Django as
under WSGI, each request's synchronous code on a thread of its own.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config_site.settings")
os.environ.setdefault("CONFIG_SERVER", "asgi")
django_application = get_asgi_application()

from configurations.api.deferred import DeferredWaits  # noqa: E402  (needs the apps loaded above)

application = DeferredWaits(django_application)
