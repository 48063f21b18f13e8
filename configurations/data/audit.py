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


def _values(ctx: AuditContext, vendor: str) -> dict[str, str]:
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
    values = _values(ctx or current(), connection.vendor)
    selects = ", ".join("set_config(%s, %s, true)" for _ in values)
    params = [item for pair in values.items() for item in pair]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {selects}", params)


def amend(**changes) -> None:
    """Change the current context (and the open transaction's settings) until the enclosing ``audit_context`` ends:
    for a note that must reach every write of the block, such as a bypassed review's mark on the reason."""
    ctx = current().merged(**changes)
    _current.set(ctx)
    apply(ctx)


@contextlib.contextmanager
def audit_context(
    *,
    actor=None,
    reason: str | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> Iterator[AuditContext]:
    """Run the block in a transaction whose writes are recorded with this context.

    Values not given are inherited from the enclosing context (for example the
    request's user, IP and user agent).
    """
    _check_reason(reason)
    outer = current()
    ctx = outer.merged(actor=actor, reason=reason, ip_address=ip_address, user_agent=user_agent)
    token = _current.set(ctx)
    try:
        with transaction.atomic(using=using):
            apply(ctx, using=using)
            yield ctx
            # Hand the transaction back with the enclosing context.
            apply(outer, using=using)
    finally:
        _current.reset(token)


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
