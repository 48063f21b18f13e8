"""Applying an approved change request: all or nothing, and never over a change made meanwhile.

Under the categories' write locks every item's key must still be at the version the item was based on; if one
moved, the request becomes conflicted (what changed is kept on it) and nothing is applied. Otherwise every item
is written in one transaction; each history row's reason names the request, its author and its approvers, so
the chain records who asked and who agreed. Due scheduled requests are applied the same way (apply_due).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ..core import crypto
from ..core.secrecy import Secret
from ..core.vocabulary import Change, label
from ..data import locks
from ..data.audit import audit_context
from ..data.models import ChangeRequest, ChangeRequestItem, RequestState
from . import permissions, reviews
from .change_requests import key_versions, valid_approvals
from .changes import deactivate, plan_changes, write_plans


def apply_request(request: ChangeRequest, *, actor=None, now=None) -> ChangeRequest:
    """Apply an approved request (scheduled ones once due); conflicted instead if a key moved meanwhile."""
    if actor is not None:
        permissions.require_edit_each(actor, [request.environment], doing="apply changes to")
    with transaction.atomic():
        request = ChangeRequest.objects.select_for_update().get(pk=request.pk)
        _require_applicable(request, now or timezone.now())
        items = list(request.items.order_by("category", "config_key"))
        locks.lock_categories({(i.category, request.environment) for i in items})
        moved = _moved(request, items)
        if moved:
            request.state, request.conflicts = RequestState.CONFLICTED, "\n".join(moved)
            request.save(update_fields=["state", "conflicts", "updated_at"])
            return request
        with reviews.applying(request.pk), audit_context(actor=request.author, reason=_reason(request)):
            _write(request, items)
        _link_history(request, items)
        request.state, request.applied_at = RequestState.APPLIED, timezone.now()
        request.save(update_fields=["state", "applied_at", "updated_at"])
    return request


def apply_due(now=None) -> list[ChangeRequest]:
    """Apply every approved, scheduled request whose apply_at has come: one pass (a failure conflicts it)."""
    now = now or timezone.now()
    due = ChangeRequest.objects.filter(state=RequestState.APPROVED, apply_at__isnull=False, apply_at__lte=now)
    done = []
    for request in due.order_by("apply_at", "pk"):
        try:
            done.append(apply_request(request, now=now))
        except (ValidationError, PermissionDenied) as error:
            request.state, request.conflicts = RequestState.CONFLICTED, f"could not apply: {error}"
            request.save(update_fields=["state", "conflicts", "updated_at"])
            done.append(request)
    return done


def _require_applicable(request: ChangeRequest, now) -> None:
    if request.state != RequestState.APPROVED:
        raise ValidationError({"state": [f"Request #{request.pk} is {request.state}: only an approved one applies."]})
    needed = max(1, reviews.policy(request.environment).required_approvals)
    if valid_approvals(request) < needed:
        raise ValidationError({"state": [f"Request #{request.pk} has fewer than the {needed} approvals it needs."]})
    if request.apply_at is not None and request.apply_at > now:
        raise ValidationError({"apply_at": [f"Request #{request.pk} is scheduled for {request.apply_at.isoformat()}."]})


def _moved(request: ChangeRequest, items: list[ChangeRequestItem]) -> list[str]:
    current = key_versions(request.environment, {(i.category, i.config_key) for i in items})
    return [
        f"{label(i.category, i.config_key, request.environment)} changed since the request was made "
        f"(history #{current[(i.category, i.config_key)]}, the request was based on #{i.base_version})"
        for i in items
        if current[(i.category, i.config_key)] != i.base_version
    ]


def _reason(request: ChangeRequest) -> str:
    approvers = request.approvals.filter(items_digest=request.items_digest).select_related("approver")
    names = ", ".join(sorted(a.approver.get_username() for a in approvers))
    return f"Change request #{request.pk} by {request.author.get_username()}, approved by {names}: {request.title}"


def _write(request: ChangeRequest, items: list[ChangeRequestItem]) -> None:
    changes = [_change(request, item) for item in items if not item.deletes]
    if changes:
        write_plans(plan_changes(changes, lock=True))
    for item in (i for i in items if i.deletes):
        deactivate(category=item.category, key=item.config_key, environment=request.environment)


def _link_history(request: ChangeRequest, items: list[ChangeRequestItem]) -> None:
    """Each item names the history row its apply wrote (none when the value was already the one asked for)."""
    written = key_versions(request.environment, {(i.category, i.config_key) for i in items})
    linked = []
    for item in items:
        version = written[(item.category, item.config_key)]
        if version != item.base_version:
            item.history_id = version
            linked.append(item)
    ChangeRequestItem.objects.bulk_update(linked, ["history_id"])


def _change(request: ChangeRequest, item: ChangeRequestItem) -> Change:
    value = item.value
    if item.is_encrypted and value is not None:
        where = {"environment": request.environment, "category": item.category, "key": item.config_key}
        value = Secret(crypto.decrypt(value, **where))
    return Change(item.category, item.config_key, request.environment, value, value_type=item.value_type,
                  is_encrypted=item.is_encrypted or None)  # fmt: skip
