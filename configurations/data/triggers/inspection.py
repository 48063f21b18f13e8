"""Compare the declared triggers and trigger functions with the ones the database holds."""

from __future__ import annotations

import re

from . import POSTGRESQL_FUNCTIONS, POSTGRESQL_TRIGGERS, SQLITE_TRIGGERS

_VOLATILITY = {"i": "IMMUTABLE", "s": "STABLE", "v": ""}
_FUNCTIONS_SQL = """
SELECT p.proname, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), l.lanname, p.provolatile,
       p.prosecdef, COALESCE(p.proconfig, '{}'), p.prosrc
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = current_schema()::regnamespace
"""
_TRIGGERS_SQL = """
SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND c.relnamespace = current_schema()::regnamespace
"""
_SCHEMA_PREFIX = re.compile(r" ON \w+\.")


def differences(connection) -> list[str]:
    """What differs between the declared definitions and the database's, one line each (empty: none)."""
    if connection.vendor == "postgresql":
        return _postgresql_functions(connection) + _postgresql_triggers(connection)
    if connection.vendor == "sqlite":
        return _sqlite_triggers(connection)
    return [f"{connection.vendor}: no declared triggers"]


def _postgresql_functions(connection) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(_FUNCTIONS_SQL)
        installed = {row[0]: row[1:] for row in cursor.fetchall()}
    found = []
    for function in POSTGRESQL_FUNCTIONS:
        row = installed.pop(function.name, None)
        if row is None:
            found.append(f"function {function.name}: declared, not installed")
            continue
        wanted = (function.arguments, function.returns, function.language, function.volatility,
                  function.security_definer, function.config, function.body)  # fmt: skip
        got = (row[0], row[1], row[2], _VOLATILITY[row[3]], row[4], list(row[5]), row[6])
        names = ("arguments", "returns", "language", "volatility", "security definer", "settings", "body")
        found += [
            f"function {function.name}: {name} differs" for name, w, g in zip(names, wanted, got, strict=True) if w != g
        ]
    return found + [f"function {name}: installed, not declared" for name in sorted(installed)]


def _postgresql_triggers(connection) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(_TRIGGERS_SQL)
        installed = {row[0]: (row[1], _SCHEMA_PREFIX.sub(" ON ", row[2])) for row in cursor.fetchall()}
    return _compare({t.name: (t.table, t.definition) for t in POSTGRESQL_TRIGGERS}, installed)


def _sqlite_triggers(connection) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
        installed = {name: (table, sql.strip()) for name, table, sql in cursor.fetchall()}
    return _compare({t.name: (t.table, t.definition.strip()) for t in SQLITE_TRIGGERS}, installed)


def _compare(declared: dict[str, tuple[str, str]], installed: dict[str, tuple[str, str]]) -> list[str]:
    found = [f"trigger {name}: declared, not installed" for name in sorted(declared.keys() - installed.keys())]
    found += [f"trigger {name}: installed, not declared" for name in sorted(installed.keys() - declared.keys())]
    for name in sorted(declared.keys() & installed.keys()):
        if declared[name] != installed[name]:
            found.append(f"trigger {name} on {installed[name][0]}: definition differs")
    return found
