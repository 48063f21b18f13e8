"""The plain admin for the four tables, and the routes of the category editor."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.dateformat import format as date_format
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from simple_history.admin import SimpleHistoryAdmin

from .. import services
from ..core.vocabulary import SECRET_MASK
from ..data.models import (
    ConfigurationMetadata,
    ConfigurationTemplate,
    SystemConfiguration,
    User,
)
from ..services import permissions
from . import review_gate, template_actions
from .forms import SystemConfigurationForm


@admin.register(User)
class ConfigurationUserAdmin(UserAdmin):
    """Django's user admin for the app's user model."""

    pass


@admin.register(SystemConfiguration)
class SystemConfigurationAdmin(admin.ModelAdmin):
    """The rows themselves: each write through the services, each environment behind its permission."""

    list_display = (
        "category",
        "config_key",
        "environment",
        "shown_value",
        "updated",
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
    actions = ["delete_with_reason"]
    delete_confirmation_template = "admin/configurations/systemconfiguration/delete_confirmation.html"
    delete_selected_confirmation_template = "admin/configurations/systemconfiguration/delete_selected_confirmation.html"

    def get_queryset(self, request):
        return super().get_queryset(request).with_secret_flag()

    @admin.display(description=_("updated"), ordering="-updated_at")
    def updated(self, obj: SystemConfiguration) -> str:
        """When and by whom, compact, so that the list fits a 1400 px window."""
        when = date_format(localtime(obj.updated_at), "Y-m-d H:i")
        return f"{when} by {obj.updated_by.username}" if obj.updated_by else when

    @admin.display(description=_(""))
    def links(self, obj: SystemConfiguration) -> str:
        return format_html(
            '<a href="{}">editor</a> · <a href="{}?config={}">history</a>',
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

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # replaced by delete_with_reason, which asks why
        return actions

    @admin.action(permissions=["delete"], description=_("Delete selected configurations (asks for a reason)"))
    def delete_with_reason(self, request, queryset):
        """Django's delete_selected, refused unless the confirmation page was given a reason."""
        if request.POST.get("post") and not _delete_reason(request):
            self.message_user(request, _("Give a reason for the deletion; nothing was deleted."), messages.ERROR)
            return None
        rows = list(queryset)
        if request.POST.get("post") and any(
            review_gate.needs_request(request, env) for env in {r.environment for r in rows}
        ):
            return self._request_deletions(request, rows)
        return delete_selected(self, request, queryset)

    @method_decorator(sensitive_post_parameters())
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST":
            instead = self._request_instead_of_save(request, object_id)
            if instead is not None:
                return instead
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _request_instead_of_save(self, request, object_id):
        """A valid save into an environment that needs review opens a change request (None: save as usual)."""
        obj = self.get_object(request, object_id) if object_id else None
        if object_id and (obj is None or not self.has_change_permission(request, obj)):
            return None  # Django's own view answers (404, or 403)
        form = self.get_form(request, obj, change=obj is not None)(request.POST, instance=obj)
        if not form.is_valid():
            return None
        change = form.change()
        if not review_gate.needs_request(request, change.environment):
            return None
        items = [change] if form.cleaned_data.get("is_active", True) else [
            services.Deletion(change.category, change.key)]  # fmt: skip
        title = f"{change.category}.{change.key} in {change.environment}"
        try:
            return review_gate.open_instead(request, change.environment, items, title=title,
                                            reason=form.cleaned_data["change_reason"])  # fmt: skip
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages) + " Nothing was changed.", messages.ERROR)
            return HttpResponseRedirect(request.path)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        if request.method == "POST" and obj is not None and not self.has_delete_permission(request, obj):
            permissions.require_edit(request.user, obj.environment)
        if request.method == "POST" and not _delete_reason(request):
            self.message_user(request, _("Give a reason for the deletion; nothing was deleted."), messages.ERROR)
            return HttpResponseRedirect(request.path)
        if request.method == "POST" and obj is not None and review_gate.needs_request(request, obj.environment):
            return self._request_deletions(request, [obj])
        return super().delete_view(request, object_id, extra_context)

    def _request_deletions(self, request, rows: list[SystemConfiguration]):
        """Deleting in an environment that needs review opens a change request that deactivates the keys (the
        spec's soft delete); rows of several environments at once are refused, nothing deleted."""
        environments = {row.environment for row in rows}
        if len(environments) != 1:
            self.message_user(request, _("Rows of %(environments)s were selected and one needs review: delete them "
                                         "one environment at a time. Nothing was deleted.")
                              % {"environments": ", ".join(sorted(environments))}, messages.ERROR)  # fmt: skip
            return HttpResponseRedirect(reverse("admin:configurations_systemconfiguration_changelist"))
        [environment] = environments
        items = [services.Deletion(row.category, row.config_key) for row in rows]
        title = _("Delete %(keys)s in %(environment)s") % {
            "keys": ", ".join(f"{r.category}.{r.config_key}" for r in rows), "environment": environment}  # fmt: skip
        return review_gate.open_instead(request, environment, items, title=title[:200], reason=_delete_reason(request))

    def delete_model(self, request, obj):
        self.delete_queryset(request, SystemConfiguration.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        services.delete_configurations(
            queryset.values_list("pk", flat=True), reason=_delete_reason(request), actor=request.user
        )

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is None:
            fields = [f for f in fields if f not in self.readonly_fields]
        if obj is not None and not self.has_change_permission(request, obj) and "config_value" in fields:
            # Read-only pages show the value as the list does: a secret as the mask, never its envelope.
            fields[fields.index("config_value")] = "shown_value"
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()  # the add form: the database fills the timestamps and the author
        readonly = self.readonly_fields + self.identity_fields
        return (*readonly, "shown_value") if obj is not None else readonly

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.user = request.user
        return form

    def save_model(self, request, obj, form, change):
        # Through the service: validated, typed, encrypted, audited. The request's user, IP and
        # user agent come from the middleware's context.
        reason = form.cleaned_data["change_reason"]
        with services.audit_context(reason=reason):
            row = services.apply_changes([form.change()], reason=reason)[0].row
            if not form.cleaned_data.get("is_active", True):
                services.deactivate(
                    category=row.category, key=row.config_key, environment=row.environment, reason=reason
                )
        obj.pk = row.pk

    @admin.display(description=_("value"))
    def shown_value(self, obj: SystemConfiguration) -> str:
        if obj.is_secret:
            return SECRET_MASK
        value = obj.config_value or ""
        return value if len(value) <= 60 else value[:57] + "..."


def _blank_for_none(prepare):
    """A JSON form field's value as shown: empty for None instead of ``null``."""

    def prepared(value):
        return "" if value is None or value == "null" else prepare(value)

    return prepared


def _delete_reason(request) -> str:
    return request.POST.get("reason", "").strip()


class RecordChangeForm(forms.ModelForm):
    """A metadata or template form that asks why: the reason goes into the record the database writes."""

    change_reason = forms.CharField(
        required=False,
        label=_("Reason for change"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Recorded in this item's history, with your name, IP address and browser."),
    )


class EveryEnvironmentAdmin(SimpleHistoryAdmin):
    """Metadata and templates apply to every environment: changing them needs every edit_<environment>.

    Without all of them the pages are read-only, and every write path (add, change, delete, bulk delete,
    simple-history's revert) is refused.
    """

    form = RecordChangeForm
    # simple-history's page lists each record's changes (old -> new), who and why; the database also says from where.
    history_list_display = ["history_ip_address", "history_user_agent"]

    def save_model(self, request, obj, form, change):
        """Saved through the service, so the database's history record says who and why."""
        services.save_rule(obj, reason=form.cleaned_data.get("change_reason") or None, actor=request.user)

    def delete_model(self, request, obj):
        """Deleted through the service: recorded with the actor."""
        services.delete_rules(type(obj).objects.filter(pk=obj.pk), actor=request.user)

    def delete_queryset(self, request, queryset):
        """Bulk deletes too, in one transaction."""
        services.delete_rules(queryset, actor=request.user)

    def _may_change_rules(self, request) -> bool:
        return permissions.can_edit_all(request.user)

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and self._may_change_rules(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._may_change_rules(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_change_rules(request)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple-history saves a POSTed revert for anyone who may view the history.
        if request.method == "POST" and not self.has_change_permission(request):
            raise PermissionDenied(_("Reverting needs the permission to change it, and to edit every environment."))
        return super().history_form_view(request, object_id, version_id, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "GET" and not self._may_change_rules(request) and super().has_change_permission(request):
            self.message_user(
                request,
                _("This applies to every environment, so changing it needs the edit permission of every environment."),
                messages.INFO,
            )
        return super().changeform_view(request, object_id, form_url, extra_context)


@admin.register(ConfigurationMetadata)
class ConfigurationMetadataAdmin(EveryEnvironmentAdmin):
    """Metadata: the rules and the form of every key, for every environment."""

    RULES_HELP = (
        'A JSON object, or empty for no rules. Its shape: {"required": true, "min": 1, "max": 65535, '
        '"integer": true, "minLength": 8, "maxLength": 200, "pattern": "^[a-z]+$", "format": "email", '
        '"options": ["tls", "ssl"]} (any of these; docs/validation.md lists every rule).'
    )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        """The rules field says what shape they take, and shows nothing (not ``null``) when there are none."""
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "validation_rules":
            field.help_text = self.RULES_HELP
            field.widget.attrs.update({"rows": 4, "cols": 80, "class": "vLargeTextField template-json",
                                       "placeholder": '{"required": true, "min": 1, "max": 65535}'})  # fmt: skip
            field.prepare_value = _blank_for_none(field.prepare_value)
        return field

    list_display = ("category", "config_key", "display_name", "input_type", "group_name", "sort_order", "is_required")
    list_filter = ("category", "input_type", "group_name", "is_required")
    search_fields = ("category", "config_key", "display_name", "description")
    ordering = ("category", "sort_order", "config_key")


@admin.register(ConfigurationTemplate)
class ConfigurationTemplateAdmin(EveryEnvironmentAdmin):
    # The JSON gets the room, the description a few lines; the page has an "Apply to environment…" button.
    """Provider templates, applied from the admin action or the change page's button."""

    change_form_template = "admin/configurations/configurationtemplate/change_form.html"

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "template_data":
            field.widget.attrs.update({"rows": 24, "cols": 110, "class": "vLargeTextField template-json"})
        elif db_field.name == "description":
            field.widget.attrs.update({"rows": 3})
        return field

    actions = [template_actions.apply_to_environment]
    list_display = ("provider_name", "category", "description", "is_active", "updated_at")
    list_filter = ("category", "is_active")
    search_fields = ("provider_name", "category", "description")
