"""Writing values: one audited transaction per call, validated first, on the locked path or in one or two round trips.

The locked path (``plan_changes(lock=True)`` + ``write_plans``) takes the categories' locks, reads and validates under
them and writes, inside the caller's transaction or one of its own: four round trips on PostgreSQL. A write that is
a transaction of its own on PostgreSQL first tries the optimistic path (data/optimistic.py): it reads and validates
without a lock (or on what the process remembers of the keys, which skips the read), then takes the locks and
writes in one message. A plaintext value another writer changed meanwhile is written over all the same (the plan is
the one a fresh read would give); if anything else read changed, the message writes nothing and answers what is there
now instead: a remembered key is then planned again on that and written once more, a key read afresh is written again
on the locked path. Both record the same history, chain, events and NOTIFY.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.views.decorators.debug import sensitive_variables

from ..core.vocabulary import Change
from ..data import audit, bulk, optimistic
from ..data.audit import audit_context
from ..data.models import SystemConfiguration
from ..observability import metrics
from .changes import PlannedChange, copy_changes, plan_changes, plans_from, refuse_unwritable, staged_rows, write_plans


@sensitive_variables()
def set_value(
    *,
    category: str,
    key: str,
    environment: str,
    value: Any,
    actor=None,
    reason: str | None = None,
    value_type: str | None = None,
    is_encrypted: bool | None = None,
) -> SystemConfiguration:
    """Validate, type, encrypt and write one value in one audited transaction; return the row.

    ``value_type`` None keeps an existing row's type; a new row takes it from the metadata's
    input_type (number, checkbox -> boolean), else string. Raises ValidationError naming the key.
    """
    change = Change(category, key, environment, value, value_type, is_encrypted)
    [planned] = apply_changes([change], actor=actor, reason=reason)
    return planned.row


def apply_changes(
    changes: Sequence[Change], *, actor=None, reason: str | None = None, ip_address=None, user_agent=None
) -> list[PlannedChange]:
    """Validate every change, then write those that change something, all in one transaction.

    Nothing is written if any change is invalid: the ValidationError lists every problem, keyed by
    ``category.key [environment]``. Unchanged values are not written, so they leave no history. The acting
    user must be allowed to edit every environment written (EnvironmentPermissionDenied otherwise).
    """
    context = {"actor": actor, "reason": reason, "ip_address": ip_address, "user_agent": user_agent}
    written = write_optimistically(changes, actor=actor, context=context)
    if written is not None:
        return written[0]
    with audit_context(**context, deferred=True):  # set by the category lock's statement (data/locks.py)
        plans = plan_changes(changes, lock=True, actor=actor)
        write_plans(plans)
    return plans


@sensitive_variables()
def write_optimistically(
    changes: Sequence[Change],
    *,
    actor=None,
    context: dict,
    then: bulk.Then = None,
    condition: optimistic.Condition = None,
    vet: Callable[[list[PlannedChange]], None] | None = None,
    expects: Callable[[list[tuple]], bool] | None = None,
    answer: tuple[str, str] | None = None,
) -> tuple[list[PlannedChange], list[tuple]] | None:
    """The changes planned and written in two round trips (one when the process remembers their keys), with the
    rows of ``then`` read after them; or None when this path does not apply (a transaction is open, SQLite, a new
    key) or the write was refused (something read changed before it, or a review policy protects the environment;
    nothing was written): the caller then takes the locked path, which decides.

    ``context`` is the audit context's values (as ``audit_context`` takes them); ``condition`` a version the category
    must have under the lock (the API's If-Match); ``expects`` whether the rows of ``then`` as first read let the
    write go on (False: the locked path decides, before anything is validated); ``vet`` a check of the plans before
    anything is written; ``answer`` a category (environment, category) whose version after a write the write itself
    answers, in place of the rows of ``then`` (which must read that version: they still answer when nothing is
    written).
    """
    if not optimistic.applies():
        return None
    refuse_unwritable(changes, actor=actor)
    ctx = audit.context_for(**context)
    triples = {(c.category, c.key, c.environment) for c in changes}
    remembered = optimistic.recall(triples) if expects is None else None
    write = functools.partial(_write, ctx=ctx, condition=condition, then=None if answer else then, answer=answer)
    seen = None if remembered is None else _from_memory(changes, remembered, write, vet)
    if isinstance(seen, tuple):
        return seen
    if seen is None:  # else what the write refused on remembered state read instead
        seen = optimistic.read(triples, then if expects else None)
    if seen is None or (expects is not None and not expects(seen.then)):
        return None  # the locked path decides
    return _from_read(changes, seen, write, vet, then=None if expects else then, unchanged_only=condition is None)


@sensitive_variables()
def _from_read(changes, seen: optimistic.Read, write, vet, *, then, unchanged_only: bool):
    """The changes planned on what was read and written, with the rows of ``then`` (read afresh when nothing is
    written, if ``unchanged_only``); None where the locked path decides."""
    plans = plans_from(changes, seen.metadata, seen.rows)
    if vet is not None:
        vet(plans)
    if not any(plan.writes for plan in plans):
        return (plans, bulk.read(then) if then else seen.then) if unchanged_only else None
    if any(plan.writes and plan.row is None for plan in plans):
        return None  # a new key: its row's creation is serialised by the lock, on the locked path
    found = write(plans, seen)
    return (plans, found) if isinstance(found, list) else None


@sensitive_variables()
def _from_memory(changes, remembered: optimistic.Read, write, vet):
    """The changes planned on what the process remembers of their keys and written in one round trip: the plans and
    the rows of ``then``; else what the write read instead, where something remembered had changed (the caller
    plans on it), or None (the caller reads). A refusal, an unchanged value or a new key decided on remembered state
    is not final."""
    try:
        plans = plans_from(changes, remembered.metadata, remembered.rows)
        if vet is not None:
            vet(plans)
    except Exception:  # decided again on what the database holds, which raises it if it stands
        return None
    if not all(plan.writes and plan.row is not None for plan in plans):
        return None
    found = write(plans, remembered)
    return (plans, found) if isinstance(found, list) else found


@sensitive_variables()
def _write(
    plans: list[PlannedChange], seen: optimistic.Read, *, ctx, condition, then, answer
) -> list[tuple] | optimistic.Read | None:
    _, changed = staged_rows(plans)
    pairs = {(plan.change.category, plan.change.environment) for plan in plans}
    found = optimistic.write(changed, seen, context=ctx, pairs=pairs, condition=condition, then=then, answer=answer)
    if isinstance(found, list):
        metrics.counted_writes(0, len(changed), path=metrics.current_path())
    return found


@sensitive_variables()
def copy_values(
    *, category: str, keys: Sequence[str], source: str, target: str, actor=None, reason: str | None = None
) -> list[PlannedChange]:
    """Copy the active values of ``keys`` from one environment to another, as one audited change.

    Secrets are decrypted from the source row and encrypted again for the target row; a secret may leave
    ``source`` only at the hands of someone who may edit ``source``, so a request that includes one the acting
    user may not move is refused whole (EnvironmentPermissionDenied naming the keys).
    """
    changes = copy_changes(category=category, keys=keys, source=source, target=target, actor=actor)
    return apply_changes(changes, actor=actor, reason=reason)
