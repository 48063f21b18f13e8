"""Who, why, from where: the audit context the history triggers record.

The context reaches the database as transaction-local settings
(``set_config('app.actor', ..., true)``), never as session settings, which would
leak to the next user of a pooled connection. ``audit_context()`` opens a
transaction and sets them; the request middleware makes the request's user, IP
and user agent the default context of every write inside that request.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import re
from collections.abc import Iterator
from contextvars import ContextVar

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from .. import conf

SETTINGS = {
    "actor": "app.actor",
    "reason": "app.reason",
    "ip_address": "app.ip_address",
    "user_agent": "app.user_agent",
}
USER_AGENT_MAX_LENGTH = 1000
REASON_MAX_LENGTH = 10_000


@dataclasses.dataclass(frozen=True)
class AuditContext:
    """Who, why and from where: what the history records with a write."""

    actor: object | None = None  # a user, a UUID or its string
    reason: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None

    def merged(self, **changes) -> AuditContext:
        """This context with the given values in place of its own (None keeps a value)."""
        given = {name: value for name, value in changes.items() if value is not None}
        return dataclasses.replace(self, **given)


# AuditContext is frozen, so sharing one default instance is safe.
_current: ContextVar[AuditContext] = ContextVar("configurations_audit_context", default=AuditContext())  # noqa: B039


def current() -> AuditContext:
    """The audit context of the running code."""
    return _current.get()


def _actor_value(actor, vendor: str) -> str:
    if actor is None or not getattr(actor, "is_authenticated", True):
        return ""
    actor_id = getattr(actor, "pk", actor)
    if actor_id is None:
        return ""
    text = str(actor_id)
    # Django stores UUIDs on SQLite as 32 hex digits without dashes.
    return text.replace("-", "") if vendor == "sqlite" else text


def settings_of(ctx: AuditContext, vendor: str) -> dict[str, str]:
    """The transaction-local settings that carry ``ctx``, by name."""
    return {
        SETTINGS["actor"]: _actor_value(ctx.actor, vendor),
        SETTINGS["reason"]: ctx.reason or "",
        SETTINGS["ip_address"]: ctx.ip_address or "",
        SETTINGS["user_agent"]: (ctx.user_agent or "")[:USER_AGENT_MAX_LENGTH],
    }


def apply(ctx: AuditContext | None = None, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Set ``ctx`` (default: the current context) for the rest of the open transaction."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("The audit context can only be applied inside a transaction.")
    ctx = ctx or current()
    selects, params = set_config_sql(ctx, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {selects}", params)
    _record_applied(connection, ctx)


def set_config_sql(ctx: AuditContext, vendor: str) -> tuple[str, list[str]]:
    """The ``set_config(...)`` calls that set ``ctx`` for the transaction, to run alone or inside another SELECT."""
    values = settings_of(ctx, vendor)
    return ", ".join("set_config(%s, %s, true)" for _ in values), [item for pair in values.items() for item in pair]


def context_for(**changes) -> AuditContext:
    """The context a write made outside ``audit_context`` records (data/optimistic.py): the current one with these
    values in place (None keeps a value), its reason checked as ``audit_context`` checks it."""
    _check_reason(changes.get("reason"))
    return current().merged(**changes)


def take_deferred(using: str = DEFAULT_DB_ALIAS) -> AuditContext | None:
    """The context a deferred ``audit_context`` has not set yet: the caller sets it in its own statement (the
    category lock's, data/locks.py) and from then on it counts as set. None when there is none."""
    connection = connections[using]
    pending = _pending(connection)
    if pending is None:
        return None
    connection._configurations_deferred_audit = None
    _record_applied(connection, pending)
    return pending


def flush(using: str = DEFAULT_DB_ALIAS) -> None:
    """Set a deferred context now, if one waits: before any write that must be recorded with it."""
    connection = connections[using]
    pending = _pending(connection)
    if pending is not None:
        connection._configurations_deferred_audit = None
        apply(pending, using=using)


def _pending(connection) -> AuditContext | None:
    """The deferred context of the block still open that deferred it (a record left by a block that ended is
    ignored, never applied to another block's writes)."""
    record = getattr(connection, "_configurations_deferred_audit", None)
    if record is None:
        return None
    ctx, block = record
    if not any(open_block is block for open_block in connection.atomic_blocks):
        connection._configurations_deferred_audit = None
        return None
    return ctx


def _record_applied(connection, ctx: AuditContext) -> None:
    # A rolled-back savepoint undoes what was set inside it: the record holds the block the context was set in.
    connection._configurations_applied_audit = (ctx, connection.atomic_blocks[-1] if connection.atomic_blocks else None)


def _is_applied(connection, ctx: AuditContext) -> bool:
    record = getattr(connection, "_configurations_applied_audit", None)
    if record is None or record[0] != ctx:
        return False
    return any(block is record[1] for block in connection.atomic_blocks)


def amend(**changes) -> None:
    """Change the current context (and the open transaction's settings) until the enclosing ``audit_context`` ends:
    for a note that must reach every write of the block, such as a bypassed review's mark on the reason."""
    ctx = current().merged(**changes)
    _current.set(ctx)
    flush()
    apply(ctx)


@contextlib.contextmanager
def audit_context(
    *,
    actor=None,
    reason: str | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
    using: str = DEFAULT_DB_ALIAS,
    deferred: bool = False,
) -> Iterator[AuditContext]:
    """Run the block in a transaction whose writes are recorded with this context.

    Values not given are inherited from the enclosing context (for example the
    request's user, IP and user agent). ``deferred``: the context is set by the block's first category lock (one
    statement fewer: data/locks.py) or, at the latest, before its first write (data/bulk.py calls ``flush``); only
    the write path that takes the lock before it writes asks for it.
    """
    _check_reason(reason)
    outer = current()
    ctx = outer.merged(actor=actor, reason=reason, ip_address=ip_address, user_agent=user_agent)
    token = _current.set(ctx)
    connection = connections[using]
    try:
        with transaction.atomic(using=using):
            waiting = getattr(connection, "_configurations_deferred_audit", None)
            try:
                if deferred:
                    connection._configurations_deferred_audit = (ctx, connection.atomic_blocks[-1])
                else:
                    connection._configurations_deferred_audit = None
                    apply(ctx, using=using)
                yield ctx
                _hand_back(connection, outer, waiting, using)
            finally:
                connection._configurations_deferred_audit = waiting
    finally:
        _current.reset(token)


def _hand_back(connection, outer: AuditContext, waiting, using: str) -> None:
    """Leave the transaction with the enclosing context: nothing to do when it ends with this block (its settings end
    with it) or when this block set nothing, else set the enclosing context again, or let it wait as it did."""
    was_set = _pending(connection) is None
    if len(connection.atomic_blocks) <= 1 or not was_set or waiting is not None:
        return
    apply(outer, using=using)


def _check_reason(reason: str | None) -> None:
    """Every write's reason passes here: refuse what the history could not keep, before anything is written."""
    if reason is None:
        return
    bad = sorted({f"U+{ord(c):04X}" for c in reason if ord(c) < 32 and c not in "\t\n\r"})
    if bad:
        raise ValidationError({"reason": [f"The reason may not contain control characters ({', '.join(bad)})."]})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": [f"The reason is {len(reason)} characters; at most {REASON_MAX_LENGTH}."]})


@contextlib.contextmanager
def request_context(*, actor, ip_address: str | None, user_agent: str | None) -> Iterator[None]:
    """Make these the default audit context of the block (used by the middleware)."""
    token = _current.set(AuditContext(actor=actor, ip_address=ip_address, user_agent=user_agent))
    try:
        yield
    finally:
        _current.reset(token)


_WRITE = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE)\b.*\b(system_configurations|configuration_metadata|configuration_templates|configuration_review_policies)\b",
    re.IGNORECASE | re.DOTALL,
)


def context_on_writes(execute, sql, params, many, context):
    """Database execute wrapper: apply the current context before a configuration write.

    It covers writes the application did not wrap in ``audit_context()``, such as
    the plain admin's change and delete views, as long as they run in a
    transaction (Django's admin views do).
    """
    connection = context["connection"]
    if connection.in_atomic_block and _WRITE.match(sql) and current() != AuditContext():
        flush(using=connection.alias)
        if not _is_applied(connection, current()):
            apply(using=connection.alias)
    return execute(sql, params, many, context)


def client_ip(meta: dict) -> str | None:
    """The client's IP address; X-Forwarded-For counts only from a trusted proxy."""
    remote = _valid_ip(meta.get("REMOTE_ADDR"))
    trusted = conf.trusted_proxies()
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if not forwarded or remote not in trusted:
        return remote
    # Walk from the nearest hop back, skipping our own proxies.
    for hop in reversed([part.strip() for part in forwarded.split(",")]):
        hop_ip = _valid_ip(hop)
        if hop_ip is None:
            return remote
        if hop_ip not in trusted:
            return hop_ip
    return remote


def _valid_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
