"""Change requests: changes to a protected environment, held until enough people approved them.

A request holds items (a key's new value, or its deletion, and the key's version when the item was made), is
written by its author and approved by others who may edit the environment. Its approvals are bound to a digest
of its items: any edit of the items withdraws them. services/request_apply.py applies an approved request, all or
nothing, or marks it conflicted. Secrets in items are encrypted as live values are and never shown.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.views.decorators.debug import sensitive_variables

from ..core import crypto
from ..core.secrecy import reveal
from ..core.vocabulary import Change, label
from ..data.models import (
    ChangeRequest,
    ChangeRequestApproval,
    ChangeRequestItem,
    ConfigurationHistory,
    RequestState,
)
from ..data.review_models import OPEN_STATES
from . import permissions, reviews
from .changes import plan_changes


@dataclasses.dataclass(frozen=True)
class Deletion:
    """An item that deletes a key (the spec's soft delete: the row is deactivated)."""

    category: str
    key: str
    environment: str | None = None  # None: the request's


@dataclasses.dataclass(frozen=True)
class Opened:
    """A request just opened or edited, and the other open requests that touch the same keys."""

    request: ChangeRequest
    overlapping: list[str]


def key_versions(environment: str, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Each key's newest history id in the environment (0: never written): what an item is based on."""
    if not keys:
        return {}
    categories = {category for category, _ in keys}
    rows = (
        ConfigurationHistory.objects.filter(environment=environment, category__in=categories)
        .values("category", "config_key")
        .annotate(version=Max("id"))
    )
    found = {(r["category"], r["config_key"]): r["version"] for r in rows}
    return {pair: found.get(pair, 0) for pair in keys}


@sensitive_variables()
def open_request(
    environment: str,
    items: Sequence[Change | Deletion],
    *,
    title: str,
    actor,
    reason: str = "",
    submit: bool = True,
    apply_at=None,
) -> Opened:
    """Open a request with these items (validated like a write, nothing live changes); in review unless a draft."""
    _require_title(title)
    author = permissions.acting_user(actor)
    if author is None:
        raise PermissionDenied("A change request needs an author: give --actor.")
    permissions.require_edit_each(author, [environment], doing="request changes to")
    with transaction.atomic():
        request = ChangeRequest.objects.create(
            environment=environment, title=title.strip(), reason=reason, author=author,
            state=RequestState.IN_REVIEW if submit else RequestState.DRAFT, apply_at=apply_at,
        )  # fmt: skip
        _store_items(request, items, actor)
    return Opened(request, overlapping(request))


@sensitive_variables()
def edit_items(request: ChangeRequest, items: Sequence[Change | Deletion], *, actor) -> Opened:
    """Replace the items (the author only, while open): every approval given so far is withdrawn."""
    _require_author(request, actor)
    with transaction.atomic():
        request = _locked(request)
        _require_state(request, OPEN_STATES, "be edited")
        request.items.all().delete()
        _store_items(request, items, actor)
        if request.state == RequestState.APPROVED:
            request.state = RequestState.IN_REVIEW
            request.save(update_fields=["state", "updated_at"])
    return Opened(request, overlapping(request))


def submit(request: ChangeRequest, *, actor) -> Opened:
    """Send a draft to review."""
    _require_author(request, actor)
    with transaction.atomic():
        request = _locked(request)
        _require_state(request, (RequestState.DRAFT,), "be submitted")
        request.state = RequestState.IN_REVIEW
        request.save(update_fields=["state", "updated_at"])
    return Opened(request, overlapping(request))


def approve(request: ChangeRequest, *, actor) -> ChangeRequest:
    """Approve the items as they are now; the request is approved once enough distinct people did."""
    user = permissions.acting_user(actor)
    if user is None:
        raise PermissionDenied("An approval needs a person: give --actor.")
    permissions.require_edit_each(user, [request.environment], doing="approve changes to")
    with transaction.atomic():
        request = _locked(request)
        _require_state(request, (RequestState.IN_REVIEW, RequestState.APPROVED), "be approved")
        rules = reviews.policy(request.environment)
        if request.author_id == user.pk and not rules.allow_self_approval:
            raise PermissionDenied(f"The review policy of {request.environment} does not let an author approve.")
        ChangeRequestApproval.objects.update_or_create(
            request=request, approver=user, defaults={"items_digest": request.items_digest}
        )
        if valid_approvals(request) >= max(1, rules.required_approvals):
            request.state = RequestState.APPROVED
            request.save(update_fields=["state", "updated_at"])
    return request


def valid_approvals(request: ChangeRequest) -> int:
    """How many distinct people approved the items as they are now."""
    return request.approvals.filter(items_digest=request.items_digest).values("approver").distinct().count()


def reject(request: ChangeRequest, *, actor, reason: str) -> ChangeRequest:
    """Refuse the request, with a reason (someone who may edit the environment)."""
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why the request is rejected."]})
    permissions.require_edit_each(actor, [request.environment], doing="reject changes to")
    return _decide(request, RequestState.REJECTED, actor, reason, doing="be rejected")


def cancel(request: ChangeRequest, *, actor, reason: str = "") -> ChangeRequest:
    """Withdraw the request (its author, or a superuser)."""
    user = permissions.acting_user(actor)
    if user is not None and user.pk != request.author_id and not user.is_superuser:
        raise PermissionDenied("Only the author or a superuser may cancel a change request.")
    return _decide(request, RequestState.CANCELLED, actor, reason, doing="be cancelled")


def overlapping(request: ChangeRequest) -> list[str]:
    """The other open requests of the environment that change one of this request's keys, as warnings."""
    keys = set(request.items.values_list("category", "config_key"))
    others = (
        ChangeRequestItem.objects.filter(request__environment=request.environment, request__state__in=OPEN_STATES)
        .exclude(request=request)
        .values_list("request_id", "category", "config_key")
    )
    return sorted(
        f"{label(category, key, request.environment)} is also changed by open request #{other}"
        for other, category, key in others
        if (category, key) in keys
    )


# ------------------------------------------------------------------------------------------- helpers


@sensitive_variables()
def _store_items(request: ChangeRequest, items: Sequence[Change | Deletion], actor) -> None:
    changes = [Change(i.category, i.key, request.environment, i.value, i.value_type, i.is_encrypted, i.type_hint)
               for i in items if isinstance(i, Change)]  # fmt: skip
    if len({(i.category, i.key) for i in items}) != len(items) or not items:
        raise ValidationError({"items": ["A request changes each key at most once, and at least one key."]})
    elsewhere = sorted(label(i.category, i.key, i.environment) for i in items
                       if i.environment not in (None, request.environment))  # fmt: skip
    if elsewhere:
        raise ValidationError({"items": [f"Not in {request.environment}: {', '.join(elsewhere)}."]})
    plans = plan_changes(changes, actor=actor)  # validated like a write, nothing written
    versions = key_versions(request.environment, {(i.category, i.key) for i in items})
    rows = [_item(request, plan.change.category, plan.change.key, plan, versions) for plan in plans]
    rows += [_deletion(request, i, versions) for i in items if isinstance(i, Deletion)]
    ChangeRequestItem.objects.bulk_create(rows)
    request.items_digest = _digest(rows)
    request.save(update_fields=["items_digest", "updated_at"])


def _item(request, category, key, plan, versions) -> ChangeRequestItem:
    text = reveal(plan.text)
    if plan.secret:
        text = crypto.encrypt(text, environment=request.environment, category=category, key=key)
    return ChangeRequestItem(
        request=request, category=category, config_key=key, value=text, value_type=plan.value_type,
        is_encrypted=plan.secret, base_version=versions[(category, key)],
    )  # fmt: skip


def _deletion(request, item: Deletion, versions) -> ChangeRequestItem:
    return ChangeRequestItem(
        request=request, category=item.category, config_key=item.key, deletes=True,
        base_version=versions[(item.category, item.key)],
    )  # fmt: skip


def _digest(items: list[ChangeRequestItem]) -> str:
    digest = hashlib.sha256()
    for i in sorted(items, key=lambda i: (i.category, i.config_key)):
        digest.update(repr((i.category, i.config_key, i.deletes, i.value_type, i.value, i.base_version)).encode())
    return digest.hexdigest()


def _decide(request: ChangeRequest, state: str, actor, reason: str, *, doing: str) -> ChangeRequest:
    with transaction.atomic():
        request = _locked(request)
        _require_state(request, OPEN_STATES, doing)
        request.state, request.decision_reason = state, reason
        request.decided_by = permissions.acting_user(actor)
        request.save(update_fields=["state", "decision_reason", "decided_by", "updated_at"])
    return request


def _locked(request: ChangeRequest) -> ChangeRequest:
    return ChangeRequest.objects.select_for_update().get(pk=request.pk)


def _require_state(request: ChangeRequest, states, doing: str) -> None:
    if request.state not in states:
        raise ValidationError({"state": [f"Request #{request.pk} is {request.state}: it cannot {doing} now."]})


def _require_author(request: ChangeRequest, actor) -> None:
    user = permissions.acting_user(actor)
    if user is not None and user.pk != request.author_id:
        raise PermissionDenied("Only the request's author may change its items or submit it.")


def _require_title(title: str) -> None:
    if not (title or "").strip():
        raise ValidationError({"title": ["A change request needs a title."]})
