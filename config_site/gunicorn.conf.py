"""gunicorn settings for `make serve` (docs/operations.md). Every value can be overridden on the command line.

- ASGI (``CONFIG_SERVER=asgi``, the default here): uvicorn workers serving config_site/asgi.py. A long poll waits
  on the event loop without a thread or a database connection, so thousands can wait (``CONFIG_API_MAX_WAITS``,
  10,000 per worker). Requests' synchronous code runs on threads, ``GUNICORN_THREADS`` at once per worker (the
  others wait for a turn on the event loop; config_site/asgi.py); PostgreSQL connections come from a pool of at
  most ``CONFIG_DB_POOL_SIZE`` (8) per worker, plus one for the watcher's LISTEN: size max_connections for
  workers x (pool + 1).
- WSGI (``CONFIG_SERVER=wsgi``): gthread workers, ``GUNICORN_THREADS`` (default 4) each; a waiting long poll holds
  a thread, so the API lets long polls take all but one of them (``CONFIG_API_MAX_WAITS``, which reads
  ``CONFIG_SERVER_THREADS``). Each thread keeps one database connection (CONN_MAX_AGE) and each worker one more for
  its watcher: size max_connections for workers x (threads + 1).
- Workers: ``WEB_CONCURRENCY`` (default 2 per core + 1).
- The master loads CONFIG_ENVIRONMENT's snapshot once, before the workers are forked (``when_ready``; off with
  ``CONFIG_RUNTIME_PRELOAD=false``), closes its database connection and freezes those objects out of the garbage
  collector: every worker starts with the snapshot in pages it shares with the master, and brings it up to date
  with a delta instead of loading it again (docs/performance.md, start-up at 100,000 keys). The master holds no
  connection once the workers run, and starts no thread (``preload_app`` stays off: the app's modules load in
  each worker, which starts its own watcher).
- ``post_worker_init`` adopts the snapshot (or loads it) and starts the watcher before the first request, so
  ``/readyz`` is green only when the worker really serves current values; then it freezes what the worker loaded
  out of the garbage collector, so that a full collection pauses the worker for what requests left behind only.
- Prometheus multiprocess mode: counters and histograms of all workers are summed by ``/metrics``.
- gunicorn's control socket is off (its default path is shared by every server of the user on the host, so two
  servers collided); ``GUNICORN_CONTROL_SOCKET=PATH`` turns it on at a path of your run directory.
"""

import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# ASGI by default: uvicorn workers, where a waiting long poll holds no thread (config_site/asgi.py). With
# CONFIG_SERVER=wsgi, gthread workers (a long poll holds one of GUNICORN_THREADS while it waits).
if os.environ.setdefault("CONFIG_SERVER", "asgi") == "asgi":
    worker_class = "config_site.workers.AsgiWorker"
    wsgi_app = "config_site.asgi:application"
else:
    worker_class = "gthread"
    wsgi_app = "config_site.wsgi:application"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
preload_app = False
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# No query strings in the access log (%(U)s is the path alone), and the request id the app answered with.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s'
errorlog = "-"
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket

_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if not _metrics_dir:
    _metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="configurations-metrics-")


def on_starting(server):
    # Figures of an earlier run's workers would be summed with this run's.
    for name in os.listdir(_metrics_dir):
        path = os.path.join(_metrics_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def when_ready(server):
    if os.environ.get("CONFIG_RUNTIME_PRELOAD", "true").strip().lower() in ("0", "false", "no", "off"):
        return
    import gc

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config_site.settings")
    django.setup()
    from django.db import DatabaseError, connections
    from prometheus_client import multiprocess

    from configurations import runtime

    try:
        runtime.reload()
    except DatabaseError as error:
        server.log.warning("Configuration snapshot not preloaded (%s): workers load their own.", type(error).__name__)
    finally:
        connections.close_all()  # no connection crosses fork()
        for connection in connections.all():
            if getattr(connection, "pool", None) is not None:
                connection.close_pool()  # nor a pool and its threads
        multiprocess.mark_process_dead(os.getpid())  # the master serves no metrics of its own
    gc.freeze()  # the snapshot's objects stay out of the collector: their pages stay shared with the workers


def post_worker_init(worker):
    import gc

    from django.db import DatabaseError, connections

    os.environ["CONFIG_SERVER_THREADS"] = str(worker.cfg.threads)  # what this worker runs, --threads included

    from configurations import runtime

    try:
        runtime.snapshot()
    except DatabaseError as error:
        # The database is not there yet: /readyz says so, and the first read that needs it tries again.
        worker.log.warning("Configuration snapshot not loaded at start (%s).", type(error).__name__)
    finally:
        connections.close_all()  # this thread serves no request: its connection would be one too many
    # What the worker loaded to serve (its modules, settings, URL patterns, the snapshot) lives as long as it does:
    # out of the collector, a full collection walks only what requests leave behind. Under a write storm on this
    # machine, full collections paused a worker 40-48 ms before and 6-19 ms after (docs/performance.md).
    gc.freeze()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
