"""What a reviewer sees of a change request, and what a user may do with it.

Each item as old -> new: the live value now (for an applied request, the value its history row replaced), the
value asked for, secrets only as "set"/"changed", and whether the key moved since the item was based on it (the
conflict an apply would find). ``allowed_actions`` is the services' own rules asked in advance, so the admin shows
only the buttons that would work; the services check them again when a button is used.
"""

from __future__ import annotations

import dataclasses

from django.utils import timezone
from django.utils.translation import gettext_lazy

from ..core.secrecy import is_secret_key
from ..data.models import ChangeRequest, ChangeRequestItem, ConfigurationHistory, RequestState, SystemConfiguration
from ..data.review_models import OPEN_STATES
from . import permissions, reviews
from .change_requests import key_versions, valid_approvals

PREVIEW_CHARS = 500
SECRET_CHANGES = {
    "set": gettext_lazy("secret set"),
    "changed": gettext_lazy("secret changed"),
    "deleted": gettext_lazy("secret deleted"),
}


@dataclasses.dataclass(frozen=True)
class ItemDiff:
    """One item as a reviewer sees it; ``old``/``new`` are None for a secret (``secret_change`` says what)."""

    item: ChangeRequestItem
    old: str | None
    new: str | None
    secret: bool
    secret_change: str  # for a secret: "set", "changed" or "deleted"; "" otherwise
    moved: bool  # the key changed after the item was based on it
    current_version: int
    config_id: int | None = None  # the configuration an applied item wrote (for a link to its history)

    @property
    def label(self) -> str:
        """category.key."""
        return f"{self.item.category}.{self.item.config_key}"

    @property
    def secret_change_label(self) -> str:
        """What happens to a secret, as a person reads it: secret set, changed or deleted."""
        return str(SECRET_CHANGES.get(self.secret_change, self.secret_change))


@dataclasses.dataclass(frozen=True)
class Approval:
    """Who approved, and whether that approval still counts (it was given to the items as they are now)."""

    approver: str
    valid: bool
    created_at: object


def item_diffs(request: ChangeRequest) -> list[ItemDiff]:
    """Every item of the request as old -> new, in key order (three queries whatever the number of items)."""
    items = list(request.items.order_by("category", "config_key"))
    keys = {(i.category, i.config_key) for i in items}
    versions = key_versions(request.environment, keys)
    live = _live_rows(request.environment, keys)
    replaced = _replaced_values(items) if request.state == RequestState.APPLIED else {}
    diffs = []
    for item in items:
        row = live.get((item.category, item.config_key))
        secret = item.is_encrypted or is_secret_key(item.config_key, is_encrypted=bool(row and row.is_encrypted))
        old, config_id = replaced[item.pk] if item.pk in replaced else (_shown(row), None)
        version = versions[(item.category, item.config_key)]
        moved = request.state in OPEN_STATES and version != item.base_version
        diffs.append(ItemDiff(
            item=item, old=None if secret else old, new=None if secret or item.deletes else _cut(item.value),
            secret=secret, secret_change=_secret_change(item, row) if secret else "", moved=moved,
            current_version=version, config_id=config_id,
        ))  # fmt: skip
    return diffs


def approvals(request: ChangeRequest) -> list[Approval]:
    """Every approval given, oldest first; those given to an earlier version of the items no longer count."""
    given = request.approvals.select_related("approver").order_by("created_at", "pk")
    return [Approval(a.approver.get_username(), a.items_digest == request.items_digest, a.created_at) for a in given]


def allowed_actions(request: ChangeRequest, user) -> set[str]:
    """What ``user`` may do with the request now: approve, reject, apply, cancel, submit (the services' rules)."""
    allowed: set[str] = set()
    if user is None or not user.is_active:
        return allowed
    author = request.author_id == user.pk
    if request.state in OPEN_STATES and (author or user.is_superuser):
        allowed.add("cancel")
    if request.state == RequestState.DRAFT and author:
        allowed.add("submit")
    if not permissions.can_edit(user, request.environment):
        return allowed
    if request.state in OPEN_STATES:
        allowed.add("reject")
    if _may_approve(request, user, author):
        allowed.add("approve")
    if _may_apply(request):
        allowed.add("apply")
    return allowed


def needed_approvals(request: ChangeRequest) -> int:
    """How many distinct approvals the request needs (at least one, whatever the policy says now)."""
    return max(1, reviews.policy(request.environment).required_approvals)


def _may_approve(request: ChangeRequest, user, author: bool) -> bool:
    if request.state not in (RequestState.IN_REVIEW, RequestState.APPROVED):
        return False
    if author and not reviews.policy(request.environment).allow_self_approval:
        return False
    return not request.approvals.filter(approver=user, items_digest=request.items_digest).exists()


def _may_apply(request: ChangeRequest) -> bool:
    if request.state != RequestState.APPROVED or valid_approvals(request) < needed_approvals(request):
        return False
    return request.apply_at is None or request.apply_at <= timezone.now()


def _live_rows(environment: str, keys: set[tuple[str, str]]) -> dict[tuple[str, str], SystemConfiguration]:
    categories = {category for category, _ in keys}
    rows = SystemConfiguration.objects.filter(environment=environment, category__in=categories, is_active=True)
    return {(r.category, r.config_key): r for r in rows if (r.category, r.config_key) in keys}


def _replaced_values(items: list[ChangeRequestItem]) -> dict[int, tuple[str | None, int]]:
    """For an applied request: the value each item's history row replaced (the live value has moved on since), and
    the configuration it wrote."""
    ids = {i.history_id: i.pk for i in items if i.history_id}
    rows = ConfigurationHistory.objects.filter(pk__in=ids).values_list("pk", "old_value", "config_id")
    return {ids[pk]: (_cut(old), config_id) for pk, old, config_id in rows}


def _shown(row: SystemConfiguration | None) -> str | None:
    return None if row is None else _cut(row.config_value)


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= PREVIEW_CHARS:
        return text
    return text[: PREVIEW_CHARS - 1] + "…"


def _secret_change(item: ChangeRequestItem, row: SystemConfiguration | None) -> str:
    if item.deletes:
        return "deleted"
    return "changed" if row is not None else "set"
