"""API tokens in memory, kept fresh by the watcher, so that authenticating a request costs no query.

Loaded on first use (one query) and reloaded by the watcher when the tokens or their owners change (migration
0015 notifies). Only digests are held, as in the table. Used only while the watcher follows the database; without
one, the API authenticates from the database on every request (``services.tokens.authenticate``).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from ..data import queries


@dataclasses.dataclass(frozen=True)
class Grant:
    """What an API token grants, held in memory by digest."""

    id: int
    name: str
    token_hash: str
    owner_id: uuid.UUID
    environments: list[str]
    categories: list[str]
    access: str
    secrets: bool
    expires_at: datetime.datetime | None
    created_at: datetime.datetime | None
    last_used_at: datetime.datetime | None


class Tokens:
    """The API tokens in memory, loaded on first use and reloaded by the watcher."""

    def __init__(self) -> None:
        self.by_digest: dict[str, Grant] | None = None  # None: not loaded (nobody asked yet)
        self.wanted = False  # once asked for, the watcher reloads them on every change

    def load(self, query: Callable[[str, Sequence[Any]], list[tuple]]) -> None:
        """Call with the store's refresh lock held: the watcher's reloads and a first load never interleave."""
        grants = [_grant(row) for row in query(queries.TOKENS_SQL, [])]
        self.by_digest = {grant.token_hash: grant for grant in grants}


def _grant(row) -> Grant:
    id_, name, token_hash, owner, environments, categories, access, secrets, expires, created, used = row
    return Grant(
        id_, name, token_hash, _uuid(owner), _json(environments), _json(categories), access, bool(secrets),
        _moment(expires), _moment(created), _moment(used),
    )  # fmt: skip


def _json(value) -> list[str]:
    return json.loads(value) if isinstance(value, str | bytes) else list(value or [])


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _moment(value) -> datetime.datetime | None:
    if value is None or isinstance(value, datetime.datetime):
        moment = value
    else:
        moment = datetime.datetime.fromisoformat(str(value))
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment


tokens = Tokens()
