"""Webhooks in the admin, for superusers only: endpoints (the signing secret shown once, when made or rotated),
each endpoint's delivery log, "send test event", and replaying dead deliveries. Every change goes through
services/webhooks, which checks the URL and records who and why."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from ..core.vocabulary import ENVIRONMENTS
from ..data.models import DeliveryState, EventType, WebhookDelivery, WebhookEndpoint
from ..services import webhooks
from ..services.webhooks import endpoints as endpoint_rules
from .history_admins import ReadOnlyAdmin


def _superuser(self, request, obj=None) -> bool:
    return request.user.is_active and request.user.is_superuser


class _CommaList(forms.CharField):
    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        return [part.strip() for part in (value or "").split(",") if part.strip()]


class WebhookEndpointForm(forms.ModelForm):
    """An endpoint's URL and filters; checked by the service (the URL resolved), problems shown by field."""

    environments = forms.MultipleChoiceField(
        choices=[(env, env) for env in ENVIRONMENTS], widget=forms.CheckboxSelectMultiple, required=False,
        help_text=_("None ticked: every environment"),
    )  # fmt: skip
    event_types = forms.MultipleChoiceField(
        choices=[(value, value) for value in EventType.values], widget=forms.CheckboxSelectMultiple, required=False,
        help_text=_("None ticked: every event"),
    )  # fmt: skip
    categories = _CommaList(required=False, help_text=_("Comma-separated; empty: every category"))
    key_patterns = _CommaList(required=False, help_text=_("Comma-separated, e.g. host, auth_*; empty: every key"))
    url = forms.URLField(max_length=2000, assume_scheme="https", help_text=_("https:// (http:// only for hosts the "
                         "CONFIG_WEBHOOK_ALLOWED_HOSTS setting lists)"))  # fmt: skip
    reason = forms.CharField(required=False, help_text=_("Recorded in the endpoint's history"))

    class Meta:
        model = WebhookEndpoint
        fields = (
            "name",
            "url",
            "environments",
            "categories",
            "key_patterns",
            "event_types",
            "is_active",
            "description",
        )

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            endpoint_rules.check(self.instance)
        except ValidationError as error:
            for field, found in error.message_dict.items():
                self.add_error(field if field in self.fields else None, found)


LOG_SIZE = 50  # deliveries shown on an endpoint's page


class DeliveryLog(admin.TabularInline):
    """The endpoint's latest deliveries (never the signing secret)."""

    model = WebhookDelivery
    fields = ("event_type", "state", "attempts", "response_code", "last_error", "created_at", "delivered_at")
    readonly_fields = fields
    ordering = ("-id",)
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = _("latest deliveries (all of them: Webhook deliveries)")

    def get_queryset(self, request):
        """The endpoint's latest LOG_SIZE deliveries (all of them are under Webhook deliveries)."""
        found = super().get_queryset(request)
        endpoint = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        latest = found.filter(endpoint_id=endpoint).order_by("-id").values_list("id", flat=True)[:LOG_SIZE]
        return found.filter(pk__in=list(latest)).order_by("-id")

    has_view_permission = _superuser


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Webhook endpoints: made (secret shown once), changed, paused, tested, rotated, removed."""

    form = WebhookEndpointForm
    list_display = ("name", "url", "scope", "is_active", "pending", "dead")
    list_filter = ("is_active",)
    search_fields = ("name", "url")
    actions = ("send_test_events", "rotate_secrets")
    inlines = (DeliveryLog,)
    change_form_template = "admin/configurations/webhookendpoint/change_form.html"
    has_module_permission = has_view_permission = has_change_permission = has_add_permission = _superuser
    has_delete_permission = _superuser

    @admin.display(description=_("subscribes to"))
    def scope(self, endpoint: WebhookEndpoint) -> str:
        parts = (endpoint.environments, endpoint.categories, endpoint.key_patterns, endpoint.event_types)
        return " / ".join(", ".join(part) or "*" for part in parts)

    def get_queryset(self, request):
        counted = {state: Count("deliveries", filter=Q(deliveries__state=state)) for state in DeliveryState.values}
        return super().get_queryset(request).annotate(**{f"{state}_count": n for state, n in counted.items()})

    @admin.display(description=_("pending"), ordering="pending_count")
    def pending(self, endpoint: WebhookEndpoint) -> int:
        return endpoint.pending_count

    @admin.display(description=_("dead"), ordering="dead_count")
    def dead(self, endpoint: WebhookEndpoint) -> int:
        return endpoint.dead_count

    def save_model(self, request, obj, form, change):
        self._secret = webhooks.save_endpoint(obj, actor=request.user, reason=form.cleaned_data.get("reason"))

    def response_add(self, request, obj, post_url_continue=None):
        return _show_secret(request, self, obj, self._secret, _("Webhook endpoint created"))

    def delete_model(self, request, obj):
        webhooks.remove_endpoint(obj.name, actor=request.user, reason=f"Removed in the admin by {request.user}")

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            self.delete_model(request, endpoint)

    def get_urls(self):
        test = self.admin_site.admin_view(require_POST(self.test_view))
        return [path("<int:pk>/test/", test, name="configurations_webhookendpoint_test"), *super().get_urls()]

    def test_view(self, request, pk: int):
        """ "Send test event": queue a webhook.test event for this endpoint (the dispatcher sends it)."""
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        webhooks.send_test_event(endpoint, actor=request.user)
        self.message_user(request, _("A test event is queued for %(name)s.") % {"name": endpoint.name})
        return HttpResponseRedirect(reverse("admin:configurations_webhookendpoint_change", args=[pk]))

    @admin.action(description=_("Send a test event to the selected endpoints"))
    def send_test_events(self, request, queryset):
        for endpoint in queryset:
            webhooks.send_test_event(endpoint, actor=request.user)
        self.message_user(request, _("Test events queued: %(n)d.") % {"n": len(queryset)}, messages.SUCCESS)

    @admin.action(description=_("Rotate the signing secret (the old one signs for 24 more hours)"))
    def rotate_secrets(self, request, queryset):
        if len(queryset) != 1:
            self.message_user(request, _("Rotate one endpoint at a time."), messages.ERROR)
            return None
        endpoint = queryset.get()
        return _show_secret(request, self, endpoint, webhooks.rotate_secret(endpoint, actor=request.user),
                            _("Signing secret rotated"))  # fmt: skip


def _show_secret(request, model_admin, endpoint: WebhookEndpoint, secret: str, title) -> TemplateResponse:
    context = {**model_admin.admin_site.each_context(request), "title": title, "endpoint": endpoint, "secret": secret}
    response = TemplateResponse(request, "admin/configurations/webhookendpoint/secret.html", context)
    response["Cache-Control"] = "no-store"
    return response


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Every delivery: state, attempts, the receiver's answer; dead ones can be replayed."""

    list_display = ("id", "endpoint", "event_type", "state", "attempts", "response_code", "last_error", "created_at")
    list_filter = ("state", "endpoint", "event_type")
    readonly_fields = (
        "endpoint", "event", "event_type", "payload", "state", "attempts", "next_attempt_at", "last_attempt_at",
        "delivered_at", "response_code", "last_error", "created_at",
    )  # fmt: skip
    actions = ("replay",)
    has_module_permission = has_view_permission = _superuser

    @admin.action(description=_("Replay the selected deliveries from their first attempt"))
    def replay(self, request, queryset):
        count = webhooks.replay(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, _("Queued again: %(n)d.") % {"n": count}, messages.SUCCESS)
