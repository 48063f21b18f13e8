"""A dedicated PostgreSQL session that LISTENs for the triggers' ``NOTIFY configurations_changed`` (delivered at
commit, never for a rolled-back transaction): the runtime watcher and the webhook dispatcher wait on one each."""

from __future__ import annotations

import os

import psycopg

from .queries import LISTEN_SQL


def listen(settings: dict, role: str) -> psycopg.Connection:
    """An autocommit connection to the database of ``settings`` (a DATABASES entry) that is listening; ``role``
    names it in pg_stat_activity."""
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
    return connection
