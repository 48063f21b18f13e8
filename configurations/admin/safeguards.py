"""One rule for writes into production from the admin's pages (docs/admin.md, Safeguards).

Every page that writes into production directly (the editor, copy between environments, a template apply, a
rollback) shows the box "Yes, change production" beside its button, and a write without it changes nothing and says
why. Where production is under review the page opens a change request instead, which changes nothing live, and
the bypass box is the explicit confirmation of a direct write.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from ..core.vocabulary import Environment

FIELD = "confirm_production"
REFUSAL = gettext_lazy("Nothing was written: tick “Yes, change production” to write to production.")


def asks(environment: str, review: dict | None = None) -> bool:
    """Whether a page writing into ``environment`` shows the box (production, unless a change request is opened)."""
    return environment == Environment.PRODUCTION and review is None


def missing(request, environment: str, review: dict | None = None) -> bool:
    """Whether this POST writes into production directly without the box ticked."""
    return asks(environment, review) and request.POST.get(FIELD) != "yes"
