"""The rollback page: confirm, then give a configuration back the value it had right after a history entry.

Honest about what it does: an entry that holds the current value offers nothing to roll back, a rollback that
would change nothing says so and writes nothing, and the entry a rollback writes records the one it restored.
In an environment under review the rollback opens a change request (admin/review_gate.py).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from .. import services
from ..core.vocabulary import label
from ..data.models import ConfigurationHistory
from ..services import history, permissions
from . import review_gate, safeguards
from .views import render_page


def rollback(request, entry_id: int, *, site):
    """GET: what the rollback would do; POST (with a reason): do it, or open a change request."""
    row = ConfigurationHistory.objects.select_related("changed_by").filter(pk=entry_id).first()
    if row is None:
        raise Http404(_("No history entry #%(id)s.") % {"id": entry_id})
    [entry] = history.annotated([row])
    can_edit = permissions.can_edit(request.user, row.environment)
    if request.method == "POST" and not entry.is_current and not entry.is_secret:
        permissions.require_edit(request.user, row.environment)
        done = _post(request, row)
        if done is not None:
            return done
    context = {
        "title": _("Roll back to history entry #%(id)s") % {"id": row.pk},
        "entry": entry,
        "can_edit": can_edit,
        "secret": entry.is_secret,
        "review": review_gate.notice(request, row.environment) if can_edit else None,
        "confirm_production": safeguards.asks(row.environment, review_gate.notice(request, row.environment)),
    }
    return render_page(site, request, "rollback.html", context)


def _post(request, row: ConfigurationHistory):
    reason = request.POST.get("reason", "").strip()
    if not reason:
        messages.error(request, _("Give a reason for the rollback."))
        return None
    if safeguards.missing(request, row.environment, review_gate.notice(request, row.environment)):
        messages.error(request, safeguards.REFUSAL)
        return None
    where = label(row.category, row.config_key, row.environment)
    back = redirect(reverse("admin:configurations_history") + f"?config={row.config_id}")
    try:
        if review_gate.needs_request(request, row.environment):
            title = _("Roll back %(category)s.%(key)s to history entry #%(id)s") % {
                "category": row.category, "key": row.config_key, "id": row.pk}  # fmt: skip
            return review_gate.open_instead(request, row.environment, [services.rollback_item(row.pk)], title=title,
                                            reason=reason)  # fmt: skip
        with review_gate.direct_write(request):
            services.rollback(history_id=row.pk, reason=reason)
    except services.NothingToRollBack as unchanged:
        messages.info(request, " ".join(unchanged.messages))
        return back
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return None
    messages.success(request, _("Rolled back %(key)s to history entry #%(id)s.") % {"key": where, "id": row.pk})
    return back
