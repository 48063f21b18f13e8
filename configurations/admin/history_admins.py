"""The read-only admins: the configuration history (and its archive) and the sent test emails."""

from __future__ import annotations

from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from ..data.models import ConfigurationHistory, ConfigurationHistoryArchive, SentTestEmail
from ..services import history


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by the database triggers only: no add, change or delete here."""

    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class HistoryColumnsAdmin(ReadOnlyAdmin):
    """History entries, read-only, values shown as the history pages show them."""

    list_display = (
        "when",
        "category",
        "config_key",
        "environment",
        "action",
        "old",
        "new",
        "changed_by",
        "change_reason",
        "ip_address",
    )
    list_filter = ("action", "environment", "category")
    search_fields = ("category", "config_key", "change_reason")
    list_select_related = ("changed_by",)
    fields = (list_display[0], "config_id", *list_display[1:], "user_agent")
    readonly_fields = fields

    @admin.display(description=_("old value"))
    def old(self, obj) -> str:
        return self._value(obj, obj.old_value, "old")

    @admin.display(description=_("new value"))
    def new(self, obj) -> str:
        return self._value(obj, obj.new_value, "new")

    @staticmethod
    def _value(obj, stored, side: str) -> str:
        entry = history.HistoryEntry(obj)
        if stored is None:
            return ""  # nothing before a create, nothing after a delete
        return f"secret {entry.change}" if entry.is_secret else (getattr(entry, side) or "")

    @admin.display(description=_("when"), ordering="created_at")
    def when(self, obj) -> str:
        """The same format as the history pages, with the time zone."""
        return date_format(localtime(obj.created_at), "Y-m-d H:i:s T")


@admin.register(SentTestEmail)
class SentTestEmailAdmin(ReadOnlyAdmin):
    """The test emails sent from the admin, read-only."""

    list_display = ("created_at", "environment", "recipient", "sent_by", "succeeded", "result")
    list_filter = ("environment", "succeeded")
    list_select_related = ("sent_by",)


@admin.register(ConfigurationHistory)
class ConfigurationHistoryAdmin(HistoryColumnsAdmin):
    """The configuration history: its list is the keyset-paginated history view."""

    fields = (*HistoryColumnsAdmin.fields, "change_request")
    readonly_fields = fields

    @admin.display(description=_("change request"))
    def change_request(self, obj) -> str:
        """The request whose apply wrote the entry (written by the apply itself, not read from the reason)."""
        request_id = history.change_requests_of([obj.pk]).get(obj.pk)
        if request_id is None:
            return "—"
        url = reverse("admin:configurations_changerequest_change", args=[request_id])
        return format_html('<a href="{}">change request #{}</a>', url, request_id)

    def changelist_view(self, request, extra_context=None):
        # The history list is the keyset-paginated view (no COUNT over a large table).
        query = request.GET.urlencode()
        return redirect(reverse("admin:configurations_history") + (f"?{query}" if query else ""))


@admin.register(ConfigurationHistoryArchive)
class ConfigurationHistoryArchiveAdmin(HistoryColumnsAdmin):
    """History moved to the archive by archive_history, read-only."""

    pass
