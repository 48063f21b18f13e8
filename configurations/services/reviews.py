"""Each environment's review policy, and the gate every write into an environment passes (docs/change-requests.md).

While an environment's policy asks for approvals, no write path changes a live value there: ``guard`` refuses
with ReviewRequired, naming the policy, unless the write is a change request being applied
(services/change_requests.py) or a user with ``bypass_review_<environment>`` asks to bypass it (``bypassing()``) and
writes with a reason, in which case the history row's reason says that the review was bypassed. Entry points ask
``needs_request`` first, and open a change request instead of writing (the admin, the API, ``--change-request``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

from django.core.exceptions import PermissionDenied, ValidationError

from ..core.vocabulary import ENVIRONMENTS
from ..data import audit, locks
from ..data.models import ReviewPolicy
from ..data.review_models import MAX_APPROVALS
from . import permissions

BYPASS_MARK = "[review bypassed]"
_applying: ContextVar[int | None] = ContextVar("configurations_applying_request", default=None)
_bypassing: ContextVar[bool] = ContextVar("configurations_bypassing_review", default=False)


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
        locks.forget_policies()
    return current


@contextlib.contextmanager
def applying(request_id: int) -> Iterator[None]:
    """The block applies an approved change request: its writes pass the gate."""
    token = _applying.set(request_id)
    try:
        yield
    finally:
        _applying.reset(token)


@contextlib.contextmanager
def bypassing() -> Iterator[None]:
    """The block asks to write past the review: allowed only to a user with the bypass permission, with a reason."""
    token = _bypassing.set(True)
    try:
        yield
    finally:
        _bypassing.reset(token)


def may_bypass(actor, environment: str) -> bool:
    """Whether the acting user holds the environment's bypass permission (trusted code, with no user, does not)."""
    user = permissions.acting_user(actor)
    if user is None or not permissions.can_edit(user, environment):
        return False
    return user.has_perm(bypass_permission(environment))


def needs_request(environment: str, *, actor=None, bypass: bool = False) -> bool:
    """Whether a write into ``environment`` must become a change request (entry points ask before writing).

    ``bypass``: the user asks to write directly; granted only with the bypass permission (the reason is checked
    by ``guard`` when the write happens).
    """
    approvals = policy(environment).required_approvals
    return requires_request(approvals, bypass_granted=bool(approvals) and bypass and may_bypass(actor, environment))


def requires_request(approvals: int, *, bypass_granted: bool) -> bool:
    """The rule itself, for callers that read the policy and the permission already (the admin, once per request):
    a write into an environment that needs approvals opens a change request, unless a bypass was asked and granted."""
    return approvals > 0 and not bypass_granted


def guard(environments: Iterable[str]) -> None:
    """Let a write into these environments go live, or raise ReviewRequired (inside the write's transaction)."""
    if _applying.get() is not None:
        return
    environments = set(environments)
    read_with_lock = locks.review_policies(environments)  # read in the category lock's statement: no query here
    if read_with_lock is not None:
        protected = {environment: n for environment, n in read_with_lock.items() if n > 0}
    else:
        protected = {p.environment: p.required_approvals for p in _protected(environments)}
    if not protected:
        return
    context = audit.current()
    allowed = all(may_bypass(None, env) for env in protected)
    if allowed and _bypassing.get() and context.reason and context.reason.strip():
        if not context.reason.startswith(BYPASS_MARK):
            audit.amend(reason=f"{BYPASS_MARK} {context.reason}")
        return
    names = ", ".join(f"{env} needs {n} approval{'s' if n != 1 else ''}" for env, n in sorted(protected.items()))
    raise ReviewRequired(
        f"The review policy refuses a direct write: {names}. Open a change request instead{_hint(allowed)}; "
        "nothing was changed."
    )


def _hint(allowed: bool) -> str:
    if not allowed:
        return ""
    if not _bypassing.get():
        return " (you hold the bypass permission: ask to bypass, with a reason)"
    return " (a bypass needs a reason)"


def _protected(environments: set[str]):
    return ReviewPolicy.objects.filter(environment__in=environments, required_approvals__gt=0)
