"""The plain admin for the four tables, and the routes of the category editor."""

from __future__ import annotations

import functools

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from .. import services
from ..core.vocabulary import SECRET_MASK
from ..data.models import (
    ConfigurationHistory,
    ConfigurationHistoryArchive,
    ConfigurationMetadata,
    ConfigurationTemplate,
    SentTestEmail,
    SystemConfiguration,
    User,
)
from ..services import history, permissions
from . import template_actions, views
from .forms import SystemConfigurationForm


@admin.register(User)
class ConfigurationUserAdmin(UserAdmin):
    pass


@admin.register(SystemConfiguration)
class SystemConfigurationAdmin(admin.ModelAdmin):
    list_display = (
        "category",
        "config_key",
        "environment",
        "shown_value",
        "value_type",
        "is_encrypted",
        "is_active",
        "updated_at",
        "updated_by",
        "links",
    )
    list_filter = ("category", "environment", "is_active", "value_type", "is_encrypted")
    change_list_template = "admin/configurations/systemconfiguration/change_list.html"
    search_fields = ("category", "config_key", "config_value")
    list_select_related = ("updated_by",)
    readonly_fields = ("created_at", "updated_at", "updated_by")
    # The identity is part of a secret's encryption; a key is renamed by adding a new one.
    identity_fields = ("category", "config_key", "environment")
    show_full_result_count = False
    form = SystemConfigurationForm

    def get_urls(self):
        def route(pattern: str, view, name: str):
            wrapped = self.admin_site.admin_view(functools.partial(view, site=self.admin_site))
            return path(pattern, wrapped, name=f"configurations_{name}")

        return [
            route("categories/", views.overview, "category_overview"),
            route("categories/<str:category>/compare/", views.compare, "category_compare"),
            route("categories/<str:category>/<str:environment>/", views.edit, "category_edit"),
            route("history/", views.history_list, "history"),
            route("history/<int:entry_id>/rollback/", views.rollback, "history_rollback"),
            route("categories/<str:category>/<str:environment>/test-email/", views.send_test_email, "send_test_email"),
            *super().get_urls(),
        ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_secret_flag()

    @admin.display(description="")
    def links(self, obj: SystemConfiguration) -> str:
        return format_html(
            '<a href="{}">edit category</a> · <a href="{}?config={}">history</a>',
            reverse("admin:configurations_category_edit", args=[obj.category, obj.environment]),
            reverse("admin:configurations_history"),
            obj.pk,
        )

    # Environment permissions apply to the plain admin too (docs/admin.md, Permissions).
    def has_change_permission(self, request, obj=None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or permissions.can_edit(request.user, obj.environment))

    def has_delete_permission(self, request, obj=None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or permissions.can_edit(request.user, obj.environment))

    def delete_queryset(self, request, queryset):
        for environment in set(queryset.values_list("environment", flat=True)):
            if not permissions.can_edit(request.user, environment):
                raise PermissionDenied(f"You may not edit the {environment} environment.")
        super().delete_queryset(request, queryset)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (self.identity_fields if obj is not None else ())

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.user = request.user
        return form

    def save_model(self, request, obj, form, change):
        # Through the service: validated, typed, encrypted, audited. The request's user, IP and
        # user agent come from the middleware's context.
        reason = form.cleaned_data["change_reason"]
        row = services.apply_changes([form.change()], reason=reason)[0].row
        if not form.cleaned_data.get("is_active", True):
            services.deactivate(category=row.category, key=row.config_key, environment=row.environment, reason=reason)
        obj.pk = row.pk

    @admin.display(description="value")
    def shown_value(self, obj: SystemConfiguration) -> str:
        if obj.is_secret:
            return SECRET_MASK
        value = obj.config_value or ""
        return value if len(value) <= 80 else value[:77] + "..."


@admin.register(ConfigurationMetadata)
class ConfigurationMetadataAdmin(SimpleHistoryAdmin):
    list_display = ("category", "config_key", "display_name", "input_type", "group_name", "sort_order", "is_required")
    list_filter = ("category", "input_type", "group_name", "is_required")
    search_fields = ("category", "config_key", "display_name", "description")
    ordering = ("category", "sort_order", "config_key")


@admin.register(ConfigurationTemplate)
class ConfigurationTemplateAdmin(SimpleHistoryAdmin):
    actions = [template_actions.apply_to_environment]
    list_display = ("provider_name", "category", "description", "is_active", "updated_at")
    list_filter = ("category", "is_active")
    search_fields = ("provider_name", "category", "description")


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
    list_display = (
        "created_at",
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

    @admin.display(description="old value")
    def old(self, obj) -> str:
        entry = history.HistoryEntry(obj)
        return f"secret {entry.summary}" if entry.is_secret else (entry.old or "")

    @admin.display(description="new value")
    def new(self, obj) -> str:
        entry = history.HistoryEntry(obj)
        return f"secret {entry.summary}" if entry.is_secret else (entry.new or "")


@admin.register(SentTestEmail)
class SentTestEmailAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "environment", "recipient", "sent_by", "succeeded", "result")
    list_filter = ("environment", "succeeded")
    list_select_related = ("sent_by",)


@admin.register(ConfigurationHistory)
class ConfigurationHistoryAdmin(HistoryColumnsAdmin):
    def changelist_view(self, request, extra_context=None):
        # The history list is the keyset-paginated view (no COUNT over a large table).
        query = request.GET.urlencode()
        return redirect(reverse("admin:configurations_history") + (f"?{query}" if query else ""))


@admin.register(ConfigurationHistoryArchive)
class ConfigurationHistoryArchiveAdmin(HistoryColumnsAdmin):
    pass
