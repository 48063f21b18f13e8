"""PostgreSQL backend that checks a connection without a round trip while it is known good, and whose pool hands out
the connection returned last.

Django checks a connection before each request uses it: from its pool under ASGI (``OPTIONS["pool"]``, with
psycopg_pool's ``check_connection``, an empty query) and, for a persistent connection under WSGI
(``CONN_HEALTH_CHECKS``), with ``SELECT 1``. Either is a round trip per request that touches the database (an API
PUT: 4-6 % of its rate, docs/performance.md). This backend asks the kernel first: an idle connection has nothing to
read unless the server sent something, and a server that ends a session (a terminated backend, a restart, an idle
timeout) sends its error and closes the socket, which makes it readable. Only then, or when the connection is not
idle outside a transaction, is the round trip made; it fails, and the connection is replaced, as before.

psycopg_pool hands out its idle connections oldest first (``popleft()`` of the connections ``append()``-ed back), so
each of a worker's connections takes its turn and its server backend has gone cold by then: under `api`'s PUTs that
cost PostgreSQL 1.33-1.37 ms of CPU a write against 1.16-1.18 ms with the newest first (``NewestFirst``), where the
connection the last request returned serves the next and the others stay idle until the pool shrinks.
"""

from __future__ import annotations

import collections
import select

import psycopg
from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool


def check_connection(conn: psycopg.Connection) -> None:
    """The pool's check: psycopg_pool's own (an empty query) unless the connection is known good (``quiet``); a
    closed connection fails at once."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    if not quiet(conn):
        ConnectionPool.check_connection(conn)


def quiet(conn: psycopg.Connection) -> bool:
    """Idle outside a transaction, with nothing to read and no hang-up or error on its socket (poll(2), no wait)."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        return False
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
    return not poller.poll(0)


class NewestFirst(collections.deque):
    """A pool's idle connections (psycopg_pool's ``ConnectionPool._pool``) with ``popleft()`` taking the newest: the
    pool takes a connection to hand out with ``popleft()`` and puts one back with ``append()``. Its shrinking, which
    closes one idle connection when some sat unused for ``max_idle`` (10 minutes), takes the newest idle one too."""

    def popleft(self):
        return self.pop()


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's PostgreSQL backend with both checks made by ``quiet`` first, and the pool's newest connection first."""

    @property
    def pool(self):
        pool = super().pool
        if pool is None:
            return pool
        # psycopg_pool keeps its ``check`` argument there; Django passes its own and no way to choose another.
        if pool._check is ConnectionPool.check_connection:
            pool._check = check_connection
        if not isinstance(pool._pool, NewestFirst):
            with pool._lock:  # its own workers add connections under it
                if not isinstance(pool._pool, NewestFirst):
                    pool._pool = NewestFirst(pool._pool)
        return pool

    def is_usable(self) -> bool:
        """Django's health check of a persistent connection (``SELECT 1``), made only when it is not ``quiet``."""
        if self.connection is None or self.connection.closed:
            return False
        return quiet(self.connection) or super().is_usable()
