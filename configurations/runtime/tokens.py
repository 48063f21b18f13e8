"""API tokens and their owners in memory, kept fresh by the watcher, so that authenticating a request and checking
what its owner may do cost no query.

Loaded on first use (three queries) and reloaded by the watcher when the tokens, their owners or the owners'
permissions and groups change (migrations 0015 and 0030 notify). Only digests are held, as in the table; of an
owner, only what the permission checks read (no password hash). Used only while the watcher follows the database;
without one, the API authenticates and loads the owner from the database on every request
(``services.tokens.authenticate``, ``owner_of``).
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


@dataclasses.dataclass(frozen=True)
class OwnerGrant:
    """A token's owner as the permission checks read them: active, staff, superuser, and every permission they hold
    (``app_label.codename``, their own and their groups')."""

    id: uuid.UUID
    username: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    permissions: frozenset[str]


class Tokens:
    """The API tokens in memory, loaded on first use and reloaded by the watcher."""

    def __init__(self) -> None:
        self.by_digest: dict[str, Grant] | None = None  # None: not loaded (nobody asked yet)
        self.owners: dict[uuid.UUID, OwnerGrant] = {}
        self.wanted = False  # once asked for, the watcher reloads them on every change

    def load(self, query: Callable[[str, Sequence[Any]], list[tuple]]) -> None:
        """Call with the store's refresh lock held: the watcher's reloads and a first load never interleave."""
        grants = [_grant(row) for row in query(queries.TOKENS_SQL, [])]
        held: dict[uuid.UUID, set[str]] = {}
        for owner, app_label, codename in query(queries.TOKEN_OWNER_PERMISSIONS_SQL, []):
            held.setdefault(_uuid(owner), set()).add(f"{app_label}.{codename}")
        owners = {}
        for id_, username, active, staff, superuser in query(queries.TOKEN_OWNERS_SQL, []):
            owner = _uuid(id_)
            owners[owner] = OwnerGrant(owner, username, bool(active), bool(staff), bool(superuser),
                                       frozenset(held.get(owner, ())))  # fmt: skip
        self.by_digest, self.owners = {grant.token_hash: grant for grant in grants}, owners


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
