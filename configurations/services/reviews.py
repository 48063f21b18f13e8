"""Each environment's review policy, and the gate every write into an environment passes (docs/change-requests.md).

While an environment's policy asks for approvals, no write path changes a live value there: ``guard`` refuses
with ReviewRequired, naming the policy, unless the write is a change request being applied
(services/change_requests.py) or a user with ``bypass_review_<environment>`` writes with a reason, in which case
the history row's reason says that the review was bypassed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

from django.core.exceptions import PermissionDenied, ValidationError

from ..core.vocabulary import ENVIRONMENTS
from ..data import audit
from ..data.models import ReviewPolicy
from ..data.review_models import MAX_APPROVALS
from . import permissions

BYPASS_MARK = "[review bypassed]"
_applying: ContextVar[int | None] = ContextVar("configurations_applying_request", default=None)


class ReviewRequired(PermissionDenied):
    """The environment needs approved change requests: nothing was written."""


def bypass_permission(environment: str) -> str:
    """The permission that lets a user write to an environment without review (with a reason)."""
    return f"configurations.bypass_review_{environment}"


def policy(environment: str) -> ReviewPolicy:
    """The environment's policy (an unsaved one, 0 approvals, when none was ever set)."""
    if environment not in ENVIRONMENTS:
        raise ValidationError({"environment": [f"Unknown environment {environment!r}; use {', '.join(ENVIRONMENTS)}."]})
    return ReviewPolicy.objects.filter(environment=environment).first() or ReviewPolicy(environment=environment)


def set_policy(
    environment: str, *, approvals: int | None = None, self_approval: bool | None = None, actor=None, reason=None
) -> ReviewPolicy:
    """Change an environment's policy (superusers only), recorded with who and why; returns it."""
    user = permissions.acting_user(actor)
    if user is not None and not getattr(user, "is_superuser", False):
        raise PermissionDenied("Only a superuser may change a review policy.")
    current = policy(environment)
    if approvals is not None:
        if not 0 <= approvals <= MAX_APPROVALS:
            raise ValidationError({"approvals": [f"Between 0 (no review) and {MAX_APPROVALS}; got {approvals}."]})
        current.required_approvals = approvals
    if self_approval is not None:
        current.allow_self_approval = self_approval
    with audit.audit_context(actor=actor, reason=reason or f"Review policy of {environment}"):
        current.save()
    return current


@contextlib.contextmanager
def applying(request_id: int) -> Iterator[None]:
    """The block applies an approved change request: its writes pass the gate."""
    token = _applying.set(request_id)
    try:
        yield
    finally:
        _applying.reset(token)


def guard(environments: Iterable[str]) -> None:
    """Let a write into these environments go live, or raise ReviewRequired (inside the write's transaction)."""
    if _applying.get() is not None:
        return
    protected = {p.environment: p.required_approvals for p in _protected(set(environments))}
    if not protected:
        return
    context = audit.current()
    user = permissions.acting_user(None)
    may_bypass = user is not None and all(user.has_perm(bypass_permission(env)) for env in protected)
    if may_bypass and context.reason and context.reason.strip():
        audit.apply(context.merged(reason=f"{BYPASS_MARK} {context.reason}"))
        return
    names = ", ".join(f"{env} needs {n} approval{'s' if n != 1 else ''}" for env, n in sorted(protected.items()))
    hint = " (you may bypass it, but only with a reason)" if may_bypass else ""
    raise ReviewRequired(
        f"The review policy refuses a direct write: {names}. Open a change request instead{hint}; nothing was changed."
    )


def _protected(environments: set[str]):
    return ReviewPolicy.objects.filter(environment__in=environments, required_approvals__gt=0)
