"""The category editor's admin views: overview, grouped edit, compare and copy, history.

Views only parse the request, check permissions and call the services; they are routed by
SystemConfigurationAdmin.get_urls, each wrapped in admin_site.admin_view.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import BadRequest, ValidationError
from django.core.validators import validate_email
from django.db.models import Count, Max, Q
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext, pgettext_lazy
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from .. import services
from ..core import crypto
from ..core.vocabulary import ENVIRONMENTS, label
from ..data.models import ConfigurationHistory, ConfigurationMetadata, SystemConfiguration
from ..services import history, permissions
from . import history_timeline, review_gate, safeguards
from .editor import CategoryState, load_category

TEST_RECIPIENT_KEY = "configurations_test_recipient"
STATUS_LABELS = {
    "same": pgettext_lazy("comparison", "same"),
    "different": pgettext_lazy("comparison", "different"),
    "not compared": pgettext_lazy("comparison", "not compared"),
}


def environment_named(environment: str) -> str:
    """The environment, or 404 for a name that is none."""
    if environment not in ENVIRONMENTS:
        raise Http404(_("Unknown environment %(environment)r.") % {"environment": environment})
    return environment


def render_page(site, request, template: str, context: dict, status: int = 200) -> TemplateResponse:
    """A page of the editor's views, with the admin site's context and the environments."""
    request.current_app = site.name
    context = {**site.each_context(request), "environments": ENVIRONMENTS, **context}
    return TemplateResponse(request, f"admin/configurations/{template}", context, status=status)


# ------------------------------------------------------------------------------ overview


def overview(request, *, site):
    """Every category x environment with its key count and last change."""
    stats = {
        (s["category"], s["environment"]): s
        for s in SystemConfiguration.objects.values("category", "environment").annotate(
            keys=Count("id", filter=Q(is_active=True)), last_change=Max("updated_at")
        )
    }
    categories = sorted(
        set(ConfigurationMetadata.objects.values_list("category", flat=True).distinct()) | {c for c, _ in stats}
    )
    editable = set(permissions.editable_environments(request.user))
    rows = [
        {
            "category": category,
            "cells": [
                {"environment": env, "stats": stats.get((category, env)), "editable": env in editable}
                for env in ENVIRONMENTS
            ],
        }
        for category in categories
    ]
    context = {"title": _("Configurations by category"), "rows": rows}
    return render_page(site, request, "category_overview.html", context)


# ------------------------------------------------------------------------ compare and copy


@sensitive_post_parameters()
def compare(request, category: str, *, site):
    """One category in two environments side by side; copy selected keys from one to the other."""
    left = environment_named(request.GET.get("left", "staging"))
    right = environment_named(request.GET.get("right", "production"))
    if request.method == "POST":
        return _copy(request, category, left, right, site=site)
    left_snapshot, right_snapshot = load_category(category, left), load_category(category, right)
    if not left_snapshot.fields and not right_snapshot.fields:
        raise Http404(_("No configuration or metadata for category %(category)r.") % {"category": category})
    context = {
        "title": _("%(category)s: %(left)s ↔ %(right)s") % {"category": category, "left": left, "right": right},
        "category": category,
        "left": left,
        "right": right,
        # Same/different of a secret is an oracle: only someone who may edit both sides may see it.
        "rows": _comparison(
            left_snapshot, right_snapshot, secrets_comparable=_may_edit_both(request.user, left, right)
        ),
        "can_copy_to_left": permissions.can_edit(request.user, left),
        "can_copy_to_right": permissions.can_edit(request.user, right),
        **_copy_safeguards(request, left, right),
    }
    return render_page(site, request, "category_compare.html", context)


def _copy_safeguards(request, left: str, right: str) -> dict:
    """The compare page's review notice (for the one target under review that the user may copy into) and whether it
    shows the production box."""
    targets = [env for env in (right, left) if permissions.can_edit(request.user, env)]
    reviews = [notice for env in targets if (notice := review_gate.notice(request, env))]
    return {
        "reviews": reviews,
        "review": reviews[0] if reviews else None,
        "confirm_production": any(safeguards.asks(env, review_gate.notice(request, env)) for env in targets),
    }


def _may_edit_both(user, left: str, right: str) -> bool:
    return permissions.can_edit(user, left) and permissions.can_edit(user, right)


def _comparison(left: CategoryState, right: CategoryState, *, secrets_comparable: bool) -> list[dict]:
    keys = sorted({f.key for f in left.fields} | {f.key for f in right.fields})
    by_key = [(key, _field(left, key), _field(right, key)) for key in keys]
    return [
        {"key": key, "label": (lf or rf).label, "secret": _secret(lf, rf), **_sides(lf, rf, secrets_comparable)}
        for key, lf, rf in by_key
    ]


def _field(snapshot: CategoryState, key: str):
    return next((f for f in snapshot.fields if f.key == key), None)


def _secret(*fields) -> bool:
    return any(f is not None and f.secret for f in fields)


def _value(field) -> str | None:
    """The plaintext for comparison only; a secret's is never put in the page."""
    if field is None or field.row is None:
        return None
    try:
        return field.row.plaintext()
    except crypto.DecryptionError:
        return "\0undecryptable"


@sensitive_variables()
def _sides(left, right, secrets_comparable: bool) -> dict:
    left_value, right_value = _value(left), _value(right)
    status = "same" if left_value == right_value else "different"  # the row's class; status_label is what it says
    if _secret(left, right):
        shown = tuple(pgettext("value state", "set") if value is not None else pgettext("value state", "unset")
                      for value in (left_value, right_value))  # fmt: skip
        if not secrets_comparable:
            status = "not compared"
    else:
        shown = (left_value, right_value)
    return {"left_shown": shown[0], "right_shown": shown[1], "status": status, "status_label": STATUS_LABELS[status]}


@sensitive_variables()
def _copy(request, category: str, left: str, right: str, *, site):
    target = environment_named(request.POST.get("target", ""))
    source = left if target == right else right
    permissions.require_edit(request.user, target)
    keys = request.POST.getlist("keys")
    reason = request.POST.get("reason", "").strip()
    url = reverse("admin:configurations_category_compare", args=[category]) + f"?left={left}&right={right}"
    if not keys or not reason:
        messages.error(request, _("Select at least one key and give a reason to copy."))
        return redirect(url)
    if safeguards.missing(request, target, review_gate.notice(request, target)):
        messages.error(request, safeguards.REFUSAL)
        return redirect(url)
    try:
        if review_gate.needs_request(request, target):
            items = services.copy_changes(category=category, keys=keys, source=source, target=target)
            title = _("Copy %(category)s from %(source)s: %(keys)s") % {
                "category": category, "source": source, "keys": ", ".join(sorted(keys))}  # fmt: skip
            return review_gate.open_instead(request, target, items, title=title, reason=reason)
        with review_gate.direct_write(request):
            plans = services.copy_values(category=category, keys=keys, source=source, target=target, reason=reason)
    except permissions.EnvironmentPermissionDenied as error:
        messages.error(request, str(error))
        return redirect(url)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect(url)
    copied = [p.change.key for p in plans if p.writes]
    messages.success(
        request,
        ngettext(
            "Copied %(count)d key from %(source)s to %(target)s: %(keys)s.",
            "Copied %(count)d keys from %(source)s to %(target)s: %(keys)s.",
            len(copied),
        )
        % {"count": len(copied), "source": source, "target": target, "keys": ", ".join(copied) or _("none")},
    )
    return redirect(url)


# -------------------------------------------------------------------------------- history


def history_list(request, *, site):
    """Newest first with filters; keyset pages, no COUNT."""
    filters = _history_filters(request.GET)
    try:
        entries, next_cursor = history.page(filters, before=request.GET.get("before"))
    except history.InvalidCursor as error:
        raise BadRequest(str(error)) from None
    params = request.GET.copy()
    params.pop("before", None)
    newer = params.urlencode()
    if next_cursor:
        params["before"] = next_cursor
    context = {
        "title": _history_title(filters),
        "editable_environments": permissions.editable_environments(request.user),
        # An entry's own page is the history model's admin page: linked only for those who may open it.
        "can_open_entries": request.user.has_perm("configurations.view_configurationhistory"),
        "entries": entries,
        "filters": filters,
        "next_url": f"?{params.urlencode()}" if next_cursor else None,
        "first_url": f"?{newer}" if request.GET.get("before") else None,
        "chart": None if request.GET.get("before") else history_timeline.chart(filters),
    }
    return render_page(site, request, "history.html", context)


def _history_title(filters: history.HistoryFilters) -> str:
    """Say what the page shows: one configuration's history is titled with its name."""
    if filters.config_id is not None:
        entry = ConfigurationHistory.objects.filter(config_id=filters.config_id).order_by("-id").first()
        if entry is not None:
            return _("History of %(key)s") % {"key": label(entry.category, entry.config_key, entry.environment)}
    return _("Configuration history")


def _history_filters(query) -> history.HistoryFilters:
    def date(name: str):
        try:
            return datetime.date.fromisoformat(query.get(name, ""))
        except ValueError:
            return None

    config_id = query.get("config")
    return history.HistoryFilters(
        config_id=int(config_id) if config_id and config_id.isdigit() else None,
        category=query.get("category") or None,
        environment=query.get("environment") if query.get("environment") in ENVIRONMENTS else None,
        changed_by=query.get("user") or None,
        since=date("since"),
        until=date("until"),
    )


# ------------------------------------------------------------------------------ test email


def send_test_email(request, category: str, environment: str, *, site):
    """Send a test message through the environment's smtp settings and report the result."""
    environment_named(environment)
    if request.method != "POST":
        return redirect("admin:configurations_category_edit", category=category, environment=environment)
    permissions.require_edit(request.user, environment)
    recipient = request.POST.get("recipient", "").strip()
    try:
        validate_email(recipient)
    except ValidationError:
        messages.error(request, _("Enter the email address to send the test message to."))
    else:
        request.session[TEST_RECIPIENT_KEY] = recipient  # offered again next time
        attempt = services.send_test_email(environment=environment, recipient=recipient, actor=request.user)
        messages.add_message(
            request,
            messages.SUCCESS if attempt.succeeded else messages.ERROR,
            _("Test email: %(result)s") % {"result": attempt.result},
        )
    return redirect("admin:configurations_category_edit", category=category, environment=environment)
