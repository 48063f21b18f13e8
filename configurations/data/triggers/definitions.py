"""The shapes of a declared database object: a PostgreSQL function or trigger, a SQLite trigger.

Each knows the SQL that installs and drops it; ``inspection`` compares them with what the database holds.
"""

from __future__ import annotations

import dataclasses

# Every SECURITY DEFINER function runs with this search_path, so a temporary object cannot stand in for a table.
PINNED_SEARCH_PATH = "pg_catalog, public, pg_temp"


@dataclasses.dataclass(frozen=True)
class Function:
    """A PostgreSQL function, as ``pg_proc`` describes it."""

    name: str
    arguments: str
    returns: str
    language: str
    body: str
    volatility: str = ""  # IMMUTABLE, STABLE or "" for VOLATILE
    security_definer: bool = False
    search_path: str | None = None
    settings: tuple[str, ...] = ()  # other SET clauses, as NAME=VALUE

    @property
    def path(self) -> str | None:
        """The pinned search_path, if any (every SECURITY DEFINER function has one)."""
        return self.search_path or (PINNED_SEARCH_PATH if self.security_definer else None)

    @property
    def config(self) -> list[str]:
        """The function's SET clauses as ``pg_proc.proconfig`` lists them."""
        return [f"search_path={self.path}"] * bool(self.path) + list(self.settings)

    def create_sql(self) -> str:
        """CREATE OR REPLACE FUNCTION with this definition."""
        clauses = [f"LANGUAGE {self.language}", self.volatility, "SECURITY DEFINER" if self.security_definer else ""]
        clauses += [f"SET search_path = {self.path}"] if self.path else []
        clauses += [f"SET {name} = '{value}'" for name, _, value in (s.partition("=") for s in self.settings)]
        head = " ".join(clause for clause in clauses if clause)
        signature = f"{self.name}({self.arguments}) RETURNS {self.returns}"
        return f"CREATE OR REPLACE FUNCTION {signature}\n{head} AS $fn${self.body}$fn$"


@dataclasses.dataclass(frozen=True)
class PostgresTrigger:
    """A PostgreSQL trigger, written as ``pg_get_triggerdef`` prints it (without the schema)."""

    name: str
    table: str
    definition: str

    @classmethod
    def of(
        cls,
        name: str,
        events: str,
        table: str,
        function: str,
        *,
        each="STATEMENT",
        referencing="",
        condition="",
        arguments="",
    ) -> PostgresTrigger:
        """A trigger from its parts, in the order ``pg_get_triggerdef`` prints them."""
        parts = [f"CREATE TRIGGER {name} {events} ON {table}"]
        parts += [f"REFERENCING {referencing}"] if referencing else []
        parts += [f"FOR EACH {each}"] + ([f"WHEN ({condition})"] if condition else [])
        return cls(name, table, " ".join([*parts, f"EXECUTE FUNCTION {function}({arguments})"]))

    def create_sql(self) -> list[str]:
        """Statements that (re)create the trigger."""
        return [f"DROP TRIGGER IF EXISTS {self.name} ON {self.table}", self.definition]


@dataclasses.dataclass(frozen=True)
class SqliteTrigger:
    """A SQLite trigger, written as ``sqlite_master.sql`` keeps it."""

    name: str
    table: str
    definition: str

    def create_sql(self) -> list[str]:
        """Statements that (re)create the trigger."""
        return [f"DROP TRIGGER IF EXISTS {self.name}", self.definition]
