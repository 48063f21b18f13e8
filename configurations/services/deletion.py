"""Hard deletes: the spec's rows removed for good, the history keeping their last state (delete rows)."""

from __future__ import annotations

from collections.abc import Iterable

from ..data import locks
from ..data.audit import audit_context
from ..data.models import SystemConfiguration
from . import permissions, reviews


def delete_configurations(ids: Iterable[int], *, reason: str, actor=None) -> int:
    """Delete the rows with these ids in one transaction, each environment's category lock held; how many.

    Refused as a whole (PermissionDenied) if the actor may not edit one of their environments.
    """
    rows = SystemConfiguration.objects.filter(pk__in=list(ids))
    with audit_context(actor=actor, reason=reason):
        pairs = set(rows.values_list("category", "environment"))
        permissions.require_edit_each(actor, {environment for _, environment in pairs}, doing="delete in")
        reviews.guard({environment for _, environment in pairs})
        locks.lock_categories(pairs)
        deleted, _ = rows.delete()
    return deleted
