"""One key written through the API: the same validation, types, encryption and audit as the admin, plus the
optimistic check of ``If-Match`` against the category's version, under the category's lock."""

from __future__ import annotations

import functools
from typing import Any

from ..core import formats
from ..core.vocabulary import Change
from ..data import locks
from ..data.audit import audit_context
from ..data.models import ApiToken
from . import changes, permissions, writes
from .versions import (
    StaleVersion,
    category_version,
    check_version,
    version_after_write_query,
    version_of,
)

__all__ = ["SecretWriteRefused", "StaleVersion", "category_version", "write_key"]


class SecretWriteRefused(Exception):
    """A token without ``secrets`` tried to write a secret (HTTP 403).

    Refused whatever the value: answering "changed": false to a right guess would let a token that may not read
    a secret learn it by guessing.
    """


def write_key(
    *,
    token: ApiToken,
    environment: str,
    category: str,
    key: str,
    value: Any,
    reason: str | None,
    expected_versions: set[int] | None = None,
) -> tuple[changes.PlannedChange, int]:
    """Write one value as the token's owner; return the plan and the category's version after it.

    ``expected_versions`` (from If-Match; None: no condition) must contain the category's current version,
    read after the category's write lock is held, else StaleVersion and nothing is written.
    """
    why = f"{reason.strip() if reason and reason.strip() else 'API write'} (API token {token.name})"
    change = Change(category, key, environment, value, type_hint=formats.type_of(value))
    # The owner's permission is checked first on either path: by write_optimistically before it reads, else here.
    written = _write_in_two_round_trips(token, change, why, expected_versions)
    if written is not None:  # else the locked path below decides
        return written
    permissions.require_edit_each(token.owner, [environment])
    with audit_context(actor=token.owner, reason=why, deferred=True):  # set by the lock's statement
        if expected_versions is not None:  # If-Match: refused before anything is validated, as before
            locks.lock_categories([(category, environment)])
            check_version(environment, category, expected_versions)
        plans = changes.plan_changes([change], lock=True, actor=token.owner)
        _refuse_secret(token, plans)
        [plan] = plans
        # The new version is read in the write's round trip: one fewer while the chain's head is locked.
        found = changes.write_plans([plan], then=version_after_write_query(environment, category))
        return plan, version_of(found)


def _write_in_two_round_trips(token: ApiToken, change: Change, why: str, expected_versions: set[int] | None):
    """The plan and the new version, or None when the locked path must decide (services/writes.py)."""
    environment, category = change.environment, change.category
    condition = expects = None
    if expected_versions is not None:  # If-Match: checked before anything is validated, and again under the lock
        condition = (environment, category, sorted(expected_versions))
        expects = lambda rows: version_of(rows) in expected_versions  # noqa: E731
    written = writes.write_optimistically(
        [change],
        actor=token.owner,
        context={"actor": token.owner, "reason": why},
        then=version_after_write_query(environment, category),
        answer=(environment, category),
        condition=condition,
        expects=expects,
        vet=functools.partial(_refuse_secret, token),
    )
    if written is None:
        return None
    [plan], found = written
    return plan, version_of(found)


def _refuse_secret(token: ApiToken, plans: list[changes.PlannedChange]) -> None:
    for plan in plans:
        if plan.secret and not token.secrets:
            raise SecretWriteRefused(
                f"{plan.change.category}.{plan.change.key} is a secret; this token may not write secrets (it was "
                "created without `secrets`)"
            )
