"""Change requests in the admin: the list, the review page (diff per item, approvals) and its buttons.

Every staff member may read a request (values are shown as the editor shows them: secrets never). The buttons
are those ``services.request_review.allowed_actions`` grants; each POST calls the same service as the command and
the API, which checks its rules again.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import services
from ..data.models import ChangeRequest, RequestState
from ..services import request_review

ACTIONS = {
    "approve": lambda request, user, reason: services.approve(request, actor=user),
    "reject": lambda request, user, reason: services.reject(request, actor=user, reason=reason),
    "apply": lambda request, user, reason: services.apply_request(request, actor=user),
    "cancel": lambda request, user, reason: services.cancel(request, actor=user, reason=reason),
    "submit": lambda request, user, reason: services.submit(request, actor=user).request,
}
DONE = {
    "approve": gettext_lazy("Request #%(id)s approved; it is now %(state)s."),
    "reject": gettext_lazy("Request #%(id)s rejected; it is now %(state)s."),
    "apply": gettext_lazy("Request #%(id)s applied; it is now %(state)s."),
    "cancel": gettext_lazy("Request #%(id)s cancelled; it is now %(state)s."),
    "submit": gettext_lazy("Request #%(id)s submitted; it is now %(state)s."),
}


def review_url(request: ChangeRequest) -> str:
    """The admin page of a change request."""
    return reverse("admin:configurations_changerequest_change", args=[request.pk])


@admin.register(ChangeRequest)
class ChangeRequestAdmin(admin.ModelAdmin):
    """Change requests: who asked what for which environment, where it stands, and its review page."""

    list_display = ("id", "title_link", "environment", "state", "author", "created_at", "apply_at", "applied_at")
    list_filter = ("state", "environment", ("author", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("author",)
    search_fields = ("title", "author__username")
    ordering = ("-id",)
    show_full_result_count = False

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff  # staff read every environment, secrets masked

    def has_add_permission(self, request) -> bool:
        return False  # opened by saving into a protected environment (the editor, copy, templates, rollback)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # decided on the review page, through the services

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a request is cancelled or rejected, never erased

    @admin.display(description=gettext_lazy("title"), ordering="title")
    def title_link(self, obj: ChangeRequest) -> str:
        return format_html('<a href="{}">{}</a>', review_url(obj), obj.title)

    def get_urls(self):
        decide = self.admin_site.admin_view(self.decide_view)
        name = "configurations_changerequest_decide"
        return [path("<int:object_id>/decide/", decide, name=name), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The review page: the items' diff, the approvals, and the buttons this user may use (read-only: its
        buttons post to ``decide_view``)."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        found = self._found(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Change request #%(id)s: %(title)s") % {"id": found.pk, "title": found.title},
            "opts": self.model._meta,
            "change_request": found,
            "diffs": request_review.item_diffs(found),
            "approvals": request_review.approvals(found),
            "needed": request_review.needed_approvals(found),
            "allowed": request_review.allowed_actions(found, request.user),
            "conflicts": [line for line in found.conflicts.splitlines() if line],
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/configurations/changerequest/review.html", context)

    def decide_view(self, request, object_id: int):
        """POST action=approve|reject|apply|cancel|submit (reject needs a reason); back to the review page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        found = self._found(request, object_id)
        action = request.POST.get("action", "")
        if action not in ACTIONS:
            raise PermissionDenied(_("Unknown action %(action)r.") % {"action": action})
        reason = request.POST.get("reason", "").strip()
        try:
            decided = ACTIONS[action](found, request.user, reason)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages) + " " + _("Nothing was changed."))
        else:
            self._report(request, action, decided)
        return redirect(review_url(found))

    def _found(self, request, object_id) -> ChangeRequest:
        if not self.has_view_permission(request):
            raise PermissionDenied
        found = ChangeRequest.objects.select_related("author", "decided_by").filter(pk=object_id).first()
        if found is None:
            raise Http404(_("No change request #%(id)s.") % {"id": object_id})
        return found

    @staticmethod
    def _report(request, action: str, decided: ChangeRequest) -> None:
        if action == "apply" and decided.state == RequestState.CONFLICTED:
            messages.error(request, _("Request #%(id)s conflicted: a key changed since it was made. Nothing was "
                                      "applied; see what changed below.") % {"id": decided.pk})  # fmt: skip
            return
        messages.success(request, DONE[action] % {"id": decided.pk, "state": decided.get_state_display()})
