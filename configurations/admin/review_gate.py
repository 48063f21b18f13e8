"""The admin's write pages and an environment's review policy: saving there opens a change request instead.

Each write view (the editor, copy, template apply, rollback, the plain configuration admin) asks
``services.needs_request`` before writing. When the environment needs approvals, the items the write would make
become a change request and the user lands on its review page; nothing live changes. A user with the bypass
permission may tick "bypass review" and write directly, with the reason every write page already asks for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import services
from ..services import reviews
from .change_requests import review_url

BYPASS_FIELD = "bypass_review"
TITLE_FIELD = "request_title"


def notice(request, environment: str) -> dict | None:
    """What a write page says about the environment's review (None: no review), for _review_notice.html. Read once
    per request and environment."""
    cache = request.__dict__.setdefault("_configurations_review_notices", {})
    if environment not in cache:
        approvals = services.policy(environment).required_approvals
        cache[environment] = approvals and {
            "environment": environment, "approvals": approvals,
            "may_bypass": reviews.may_bypass(request.user, environment),
        }  # fmt: skip
    return cache[environment] or None


def wants_bypass(request) -> bool:
    """Whether the user ticked "bypass review" (granted only with the permission; the service checks again)."""
    return request.POST.get(BYPASS_FIELD) == "yes"


def needs_request(request, environment: str) -> bool:
    """Whether this POST into ``environment`` must open a change request instead of writing (the bypass is granted
    only with the permission: services.needs_request's rule, on the policy read once for the request)."""
    review = notice(request, environment)
    if review is None:
        return False
    return reviews.requires_request(review["approvals"], bypass_granted=wants_bypass(request) and review["may_bypass"])


@contextlib.contextmanager
def direct_write(request) -> Iterator[None]:
    """Around a direct write: a ticked bypass is passed on to the review gate (which wants the permission and a
    reason)."""
    if wants_bypass(request):
        with services.bypassing():
            yield
    else:
        yield


def open_instead(request, environment: str, items: Sequence, *, title: str, reason: str = ""):
    """Open the change request and go to its review page, saying that nothing is live yet (ValidationError if an
    item is invalid: nothing is opened)."""
    title = (request.POST.get(TITLE_FIELD) or "").strip() or title
    opened = services.open_request(environment, items, title=title[:200], reason=reason, actor=request.user)
    needed = services.policy(environment).required_approvals
    holds = ngettext("%(count)d change", "%(count)d changes", len(items)) % {"count": len(items)}
    needs = ngettext("%(count)d approval", "%(count)d approvals", needed) % {"count": needed}
    messages.success(request, _(
        "Nothing is live yet: change request #%(id)s for %(environment)s holds %(holds)s and needs %(needs)s "
        "before it can be applied."
    ) % {"id": opened.request.pk, "environment": environment, "holds": holds, "needs": needs})  # fmt: skip
    for warning in opened.overlapping:
        messages.warning(request, _("%(warning)s: whichever is applied second will conflict.") % {"warning": warning})
    return redirect(review_url(opened.request))
