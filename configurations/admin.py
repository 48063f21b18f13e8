"""The plain admin for the four tables (the grouped editor builds on it later)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from simple_history.admin import SimpleHistoryAdmin

from . import services
from .forms import SystemConfigurationForm
from .models import (
    ConfigurationHistory,
    ConfigurationHistoryArchive,
    ConfigurationMetadata,
    ConfigurationTemplate,
    SystemConfiguration,
    User,
)

MASK = "••••••••"


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
    )
    list_filter = ("category", "environment", "is_active", "value_type", "is_encrypted")
    search_fields = ("category", "config_key", "config_value")
    list_select_related = ("updated_by",)
    readonly_fields = ("created_at", "updated_at", "updated_by")
    # The identity is part of a secret's encryption; a key is renamed by adding a new one.
    identity_fields = ("category", "config_key", "environment")
    show_full_result_count = False
    form = SystemConfigurationForm

    def get_queryset(self, request):
        return super().get_queryset(request).with_secret_flag()

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (self.identity_fields if obj is not None else ())

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
            return MASK
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


@admin.register(ConfigurationHistory)
class ConfigurationHistoryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "category",
        "config_key",
        "environment",
        "action",
        "old_value",
        "new_value",
        "changed_by",
        "change_reason",
        "ip_address",
    )
    list_filter = ("action", "environment", "category", "created_at")
    search_fields = ("category", "config_key", "change_reason")
    list_select_related = ("changed_by",)
    date_hierarchy = None


@admin.register(ConfigurationHistoryArchive)
class ConfigurationHistoryArchiveAdmin(ConfigurationHistoryAdmin):
    pass
