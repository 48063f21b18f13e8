"""Review policies in the admin, for superusers only (change requests: admin/change_requests.py)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from .. import services
from ..data.models import ReviewPolicy


def _superuser(self, request, obj=None) -> bool:
    return request.user.is_active and request.user.is_superuser


class ReviewPolicyForm(forms.ModelForm):
    """A policy and why it changes: the reason goes into the policy's history."""

    change_reason = forms.CharField(
        required=False, label=_("Reason for change"), widget=forms.Textarea(attrs={"rows": 2})
    )

    class Meta:
        model = ReviewPolicy
        fields = ("environment", "required_approvals", "allow_self_approval")


@admin.register(ReviewPolicy)
class ReviewPolicyAdmin(SimpleHistoryAdmin):
    """Each environment's review policy: approvals needed, self-approval; every change recorded."""

    form = ReviewPolicyForm
    list_display = ("environment", "required_approvals", "allow_self_approval", "updated_at")
    history_list_display = ["history_ip_address", "history_user_agent"]
    has_module_permission = _superuser
    has_view_permission = has_change_permission = has_add_permission = _superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # turn review off with 0 approvals: the row (and its history) stays

    def get_readonly_fields(self, request, obj=None):
        return ("environment",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        """Through the service: superusers only, recorded with who and why."""
        services.set_policy(
            obj.environment, approvals=obj.required_approvals, self_approval=obj.allow_self_approval,
            actor=request.user, reason=form.cleaned_data.get("change_reason") or None,
        )  # fmt: skip
