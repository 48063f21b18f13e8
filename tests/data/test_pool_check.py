"""The PostgreSQL backend's pool (configurations/data/backends/postgresql): no round trip for a connection that sat
quietly in the pool, a connection the server ended still found out and replaced, and the newest connection first."""

from __future__ import annotations

import tempfile
import time

import psycopg
import pytest
from django.db import connection

from configurations.data.backends.postgresql.base import DatabaseWrapper, NewestFirst, check_connection, quiet

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _session() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(dbname=s["NAME"], user=s["USER"] or None, host=s["HOST"] or None, port=s["PORT"] or None,
                           autocommit=True)  # fmt: skip


def _terminate(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone()[0]


def _sent_by(conn: psycopg.Connection, act) -> str:
    """What libpq sent and received while ``act`` ran (its protocol trace)."""
    with tempfile.TemporaryFile() as trace:
        conn.pgconn.trace(trace.fileno())
        try:
            act()
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        return trace.read().decode()


def test_a_quiet_connection_is_checked_without_a_round_trip():
    with _session() as conn:
        conn.execute("SELECT 1")
        assert _sent_by(conn, lambda: check_connection(conn)) == ""
        # The trace does see a round trip: psycopg_pool's own check sends its empty query.
        from psycopg_pool import ConnectionPool

        assert "Query" in _sent_by(conn, lambda: ConnectionPool.check_connection(conn))


def test_a_connection_the_server_ended_fails_the_check():
    with _session() as conn:
        _terminate(conn.info.backend_pid)
        deadline = time.monotonic() + 5
        with pytest.raises(psycopg.OperationalError):
            while time.monotonic() < deadline:  # the server's goodbye takes a moment to arrive
                check_connection(conn)
                time.sleep(0.01)


def test_a_closed_connection_fails_the_check():
    conn = _session()
    conn.close()
    with pytest.raises(psycopg.OperationalError):
        check_connection(conn)


def _pooled(alias: str, size: int) -> DatabaseWrapper:
    """This backend with Django's pool of ``size`` connections, as under ASGI."""
    pool = {"min_size": size, "max_size": size, "timeout": 5}
    options = {**connection.settings_dict["OPTIONS"], "pool": pool}
    params = {**connection.settings_dict, "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": True, "OPTIONS": options}
    return DatabaseWrapper(params, alias=alias)


def test_the_pool_replaces_a_connection_ended_while_idle():
    """Django's pool with this backend: its connections terminated while idle, the next request's connection is a
    new, working one, and no query failed."""
    wrapper = _pooled("pool_check_test", 2)
    try:
        pool = wrapper.pool
        assert pool._check is check_connection
        pool.open(wait=True)
        held = [pool.getconn() for _ in range(2)]
        before = {conn.info.backend_pid for conn in held}
        for conn in held:
            pool.putconn(conn)
        for pid in before:
            _terminate(pid)
        time.sleep(0.2)  # the goodbyes arrive
        wrapper.ensure_connection()
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] not in before
    finally:
        wrapper.close()
        wrapper.close_pool()


def test_the_pool_hands_out_the_connection_returned_last():
    """Of the connections idle in the pool, the one returned last serves the next request, whose server backend is
    warm from the request before (psycopg_pool's own order, oldest first, gives each connection its turn)."""
    wrapper = _pooled("newest_first_test", 3)
    try:
        pool = wrapper.pool
        assert isinstance(pool._pool, NewestFirst)
        pool.open(wait=True)
        held = [pool.getconn() for _ in range(3)]
        pids = [conn.info.backend_pid for conn in held]
        for conn in held:
            pool.putconn(conn)
        served = []
        for _ in range(3):  # three requests, one after another, through Django's connection
            wrapper.ensure_connection()
            served.append(wrapper.connection.info.backend_pid)
            wrapper.close()  # back to the pool, as at the end of a request
        assert served == [pids[-1]] * 3
        assert len(pool._pool) == 3  # the others still idle in the pool, none closed
    finally:
        wrapper.close()
        wrapper.close_pool()


def test_the_server_uses_this_backend():
    assert connection.settings_dict["ENGINE"] == "configurations.data.backends.postgresql"


def test_a_persistent_connection_is_checked_without_a_round_trip_and_replaced_once_ended():
    """Django's health check of a persistent connection (CONN_HEALTH_CHECKS, under WSGI): no query while it is
    quiet; once the server ended it, not usable, and the next request's connection is a new one."""
    params = {**connection.settings_dict, "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}
    wrapper = DatabaseWrapper(params, alias="health_check_test")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        assert _sent_by(wrapper.connection, wrapper.is_usable) == ""
        _terminate(pid)
        deadline = time.monotonic() + 5
        while wrapper.is_usable() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not wrapper.is_usable()
        wrapper.health_check_done = False  # a new request (Django's request_started)
        wrapper.close_if_health_check_failed()
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] != pid
    finally:
        wrapper.close()


def test_a_connection_inside_a_transaction_is_not_quiet():
    with _session() as conn:
        assert quiet(conn)
        conn.autocommit = False
        conn.execute("SELECT 1")
        assert not quiet(conn)  # the check's round trip is made (and Django's SELECT 1 fails such a connection)
