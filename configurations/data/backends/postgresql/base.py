"""PostgreSQL backend whose connection pool checks a connection without a round trip while it is known good.

Django's pool (``OPTIONS["pool"]``, under ASGI) checks every connection before lending it, with psycopg_pool's
``check_connection``: an empty query, one round trip per request that touches the database (an API PUT: 4-6 % of
its rate, docs/performance.md). ``check_connection`` here asks the kernel first: a connection that sat idle in the
pool has had nothing to read unless the server sent something, and a server that ends a session (a terminated
backend, a restart, an idle timeout) sends its error and closes the socket, which makes it readable. Only then is the
round trip made, and it fails and the pool replaces the connection, as before.
"""

from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool


def check_connection(conn) -> None:
    """The pool's check: psycopg_pool's own (an empty query) only when the idle connection's socket has something to
    read or cannot be polled; a closed connection fails at once."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    if _quiet(conn.fileno()):
        return
    ConnectionPool.check_connection(conn)


def _quiet(fd: int) -> bool:
    """Nothing to read on ``fd`` and no hang-up or error, by poll(2) without waiting."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return not poller.poll(0)


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's PostgreSQL backend; its pool, when it checks connections (``CONN_HEALTH_CHECKS``), checks them with
    ``check_connection``."""

    @property
    def pool(self):
        pool = super().pool
        # psycopg_pool keeps its ``check`` argument there; Django passes its own and no way to choose another.
        if pool is not None and pool._check is ConnectionPool.check_connection:
            pool._check = check_connection
        return pool
