"""The category editor's page: one category in one environment, generated from its metadata, and its save.

A large category (more than ``editor.PAGE_KEYS`` keys) opens as an outline of its groups and a filter box; the page
then shows one group, or the keys a filter finds, a page at a time, so that it stays small and fast at thousands of
keys. The form holds only the keys shown (listed in the page), and a save considers only those: it refuses stale
data for the whole category (its version) and writes only the keys that changed.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from .. import services
from ..data.models import SystemConfiguration
from ..services import permissions
from . import review_gate, safeguards
from .editor import CategoryState, Selection, load_category, open_page, selection_of
from .forms import CategoryForm
from .views import TEST_RECIPIENT_KEY, environment_named, render_page

STALE_MESSAGE = gettext_lazy(
    "Someone else changed %(category)s in %(environment)s after you opened this page. Nothing was saved: "
    "the page now shows the current values, and what you typed beside them. Make your change again."
)


@sensitive_post_parameters()
def edit(request, category: str, environment: str, *, site):
    """GET the page (``?group=``, ``?q=`` and ``?page=`` for a large category); POST saves the keys it showed."""
    environment_named(environment)
    can_edit = permissions.can_edit(request.user, environment)
    if request.method == "POST":
        permissions.require_edit(request.user, environment)
        return _save(request, category, environment, site=site)
    wanted = {"group": request.GET.get("group"), "query": request.GET.get("q", ""),
              "page": _page_number(request.GET.get("page"))}  # fmt: skip
    snapshot, selection = open_page(category, environment, **wanted)
    if (
        not selection.outline
        and not snapshot.fields
        and not SystemConfiguration.objects.filter(category=category).exists()
    ):
        # A category known in another environment only (imported into test, say) is editable everywhere.
        raise Http404(_("No configuration or metadata for category %(category)r.") % {"category": category})
    form = CategoryForm(snapshot, read_only=not can_edit, keys=selection.keys)
    return _edit_page(site, request, snapshot, form, can_edit, selection=selection)


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and len(text) < 7 else 1


@sensitive_variables()
def _save(request, category: str, environment: str, *, site):
    with transaction.atomic():
        shown = request.POST.getlist("keys") or None  # the keys the page showed (None: a page listing none: all)
        current = load_category(category, environment, lock=True, keys=shown)  # costs what the page showed
        form = CategoryForm(current, request.POST, keys=shown)
        page = _page_of(site, request, current, shown)
        if not form.is_valid():
            return page(form)
        try:
            services.check_version(environment, category, {form.cleaned_data["version"]}, current=current.version)
        except services.StaleVersion:
            messages.error(request, STALE_MESSAGE % {"category": category, "environment": environment})
            return page(CategoryForm(current, keys=shown), status=409, typed=form.typed_values(current))
        changes, reason = form.changes(current), form.cleaned_data["reason"]
        if changes and safeguards.missing(request, environment, review_gate.notice(request, environment)):
            _explain_refusal(request, form, changes)
            return page(form)
        try:
            plans = _write(request, form, changes, reason, category, environment)
        except ValidationError as error:
            form.add_service_errors(error)
            return page(form)
    if not isinstance(plans, list):
        return plans  # a change request was opened instead: its review page
    _report(request, plans, category, environment)
    return redirect(request.get_full_path())


def _explain_refusal(request, form: CategoryForm, changes) -> None:
    """No "Yes, change production": the values' own problems first, so that ticking the box is not all that is
    asked."""
    try:
        services.plan_changes(changes, actor=request.user)
    except ValidationError as error:
        form.add_service_errors(error)
    form.add_error(None, safeguards.REFUSAL)


def _write(request, form: CategoryForm, changes, reason: str, category: str, environment: str):
    """Write the changes (and the new key's metadata, if asked), or open a change request: its response."""
    metadata = form.metadata_to_create()
    if metadata is not None:
        services.save_rule(metadata, reason=reason)  # needs every environment's permission, like all rules
    if changes and review_gate.needs_request(request, environment):
        title = _("%(category)s in %(environment)s: %(keys)s") % {
            "category": category, "environment": environment, "keys": ", ".join(c.key for c in changes)}  # fmt: skip
        return review_gate.open_instead(request, environment, changes, title=title, reason=reason)
    with review_gate.direct_write(request):
        return services.apply_changes(changes, reason=reason)


def _report(request, plans, category: str, environment: str) -> None:
    written = [plan.change.key for plan in plans if plan.writes]
    if written:
        shown = ", ".join(written[:20])
        if len(written) > 20:
            shown = _("%(keys)s and %(more)d more") % {"keys": shown, "more": len(written) - 20}
        messages.success(request, ngettext(
            "Saved %(count)d change to %(category)s in %(environment)s: %(keys)s.",
            "Saved %(count)d changes to %(category)s in %(environment)s: %(keys)s.", len(written),
        ) % {"count": len(written), "category": category, "environment": environment, "keys": shown})  # fmt: skip
    else:
        messages.info(request, _("Nothing changed, so nothing was saved."))


def _page_of(site, request, current: CategoryState, shown):
    """The page again after a refused save, showing the keys the user had (with the same outline)."""

    def page(form: CategoryForm, *, status: int = 200, typed=None):
        selection = selection_of(current, group=request.GET.get("group"), query=request.GET.get("q", ""),
                                 page=_page_number(request.GET.get("page")))  # fmt: skip
        return _edit_page(site, request, current, form, True, selection=selection, status=status, typed=typed)

    return page


def _edit_page(site, request, snapshot: CategoryState, form: CategoryForm, can_edit: bool, *, selection: Selection,
               status: int = 200, typed: dict[str, str] | None = None):  # fmt: skip
    review = review_gate.notice(request, snapshot.environment)
    typed = typed or {}
    groups = [(name, [(f, form.bound(f.key), typed.get(f.key)) for f in fields])
              for name, fields in snapshot.groups(selection.fields)]  # fmt: skip
    context = {
        "title": f"{snapshot.category} · {snapshot.environment}",  # names only: nothing to translate
        "snapshot": snapshot,
        "form": form,
        "groups": groups,
        "selection": selection,
        "can_edit": can_edit,
        "editable_environments": permissions.editable_environments(request.user),
        "test_recipient": request.session.get(TEST_RECIPIENT_KEY, ""),
        "review": review if can_edit else None,
        "confirm_production": can_edit and safeguards.asks(snapshot.environment, review),
        "can_edit_rules": permissions.can_edit_all(request.user),
    }
    return render_page(site, request, "category_edit.html", context, status=status)
