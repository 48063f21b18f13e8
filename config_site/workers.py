"""gunicorn's worker class for the ASGI application (config_site/gunicorn.conf.py)."""

from uvicorn_worker import UvicornWorker


class AsgiWorker(UvicornWorker):
    """uvicorn under gunicorn: uvloop and httptools; no lifespan (Django has none); no access log of uvicorn's own,
    which would log query strings (the application logs one line per request, without them)."""

    CONFIG_KWARGS = {"loop": "uvloop", "http": "httptools", "lifespan": "off", "access_log": False}
