"""A dedicated PostgreSQL session that LISTENs for the triggers' ``NOTIFY configurations_changed`` (and
``configurations_tokens``; delivered at commit, never for a rolled-back transaction): the runtime watcher and the
webhook dispatcher wait on one each."""

from __future__ import annotations

import os

import psycopg

from .queries import LISTEN_SQL, LISTEN_TOKENS_SQL


def listen(settings: dict, role: str, *, tokens: bool = False) -> psycopg.Connection:
    """An autocommit connection to the database of ``settings`` (a DATABASES entry) that is listening to the changes
    of values and metadata, and with ``tokens`` to those of the tokens and their owners; ``role`` names it in
    pg_stat_activity."""
    connection = psycopg.connect(
        dbname=settings["NAME"],
        user=settings.get("USER") or None,
        password=settings.get("PASSWORD") or None,
        host=settings.get("HOST") or None,
        port=settings.get("PORT") or None,
        autocommit=True,
        connect_timeout=5,
        application_name=f"configurations-{role}-{os.getpid()}",
    )
    connection.execute(LISTEN_SQL)
    if tokens:
        connection.execute(LISTEN_TOKENS_SQL)
    return connection
