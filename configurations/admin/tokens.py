"""API tokens in the admin: create (the token is shown once, on the page that answers the creation), list, revoke.

Only superusers manage tokens: a token is a credential that acts as its owner outside the browser.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables

from ..core.vocabulary import ENVIRONMENTS
from ..data.models import ApiToken
from ..services import tokens


class ApiTokenForm(forms.ModelForm):
    """Create an API token: name, owner, scope, access, secrets and expiry."""

    environments = forms.MultipleChoiceField(
        choices=[(env, env) for env in ENVIRONMENTS], widget=forms.CheckboxSelectMultiple
    )
    categories = forms.CharField(required=False, help_text=_("Comma-separated; empty: every category"))
    write = forms.BooleanField(required=False, label=_("Read-write"), help_text=_("Default: read only"))
    expires_in_days = forms.IntegerField(required=False, min_value=1, max_value=tokens.MAX_DAYS)

    class Meta:
        model = ApiToken
        fields = ("name", "owner", "environments", "categories", "secrets")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")

    def clean_categories(self) -> list[str]:
        return [c.strip() for c in self.cleaned_data["categories"].split(",") if c.strip()]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        problems = tokens.token_problems(
            name=data.get("name"), owner=data.get("owner"), environments=data.get("environments", []),
            categories=data.get("categories", []), write=data.get("write"), secrets=data.get("secrets"),
            expires_in_days=data.get("expires_in_days"), actor=self.user,
        )  # fmt: skip
        for field, found in problems.items():
            for message in found:
                self.add_error(field if field in self.fields else None, message)
        return data


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens, for superusers only: created (shown once), listed, revoked."""

    list_display = ("name", "owner", "prefix", "scope", "access", "secrets", "expires_at", "last_used_at", "revoked")
    list_filter = ("revoked", "access", "secrets")
    search_fields = ("name", "owner__username", "prefix")
    actions = ("revoke",)
    readonly_fields = (
        "name", "owner", "prefix", "environments", "categories", "access", "secrets", "expires_at", "created_at",
        "last_used_at", "revoked", "revoked_at",
    )  # fmt: skip

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    has_view_permission = has_change_permission = has_delete_permission = has_add_permission = (
        lambda self, request, obj=None: request.user.is_active and request.user.is_superuser
    )

    @admin.display(description=_("scope"))
    def scope(self, token: ApiToken) -> str:
        return f"{', '.join(token.environments)} / {', '.join(token.categories) or 'all categories'}"

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenForm
        form = super().get_form(request, obj, **kwargs)
        form.user = request.user
        return form

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "owner", "environments", "categories", "write", "secrets", "expires_in_days")
        return self.readonly_fields

    @method_decorator(never_cache)
    @method_decorator(sensitive_variables())
    def add_view(self, request, form_url="", extra_context=None):
        if request.method != "POST":
            return super().add_view(request, form_url, extra_context)
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ApiTokenForm(request.POST)
        form.user = request.user
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = tokens.create_token(
                    name=data["name"],
                    owner=data["owner"],
                    environments=data["environments"],
                    categories=data["categories"],
                    write=data["write"],
                    secrets=data["secrets"],
                    expires_in_days=data["expires_in_days"],
                    actor=request.user,
                )
            except ValidationError:
                pass  # changed since the form was checked (a name taken meanwhile): the form below says how
            else:
                context = {**self.admin_site.each_context(request), "title": "API token created", "created": created}
                response = TemplateResponse(request, "admin/configurations/apitoken/created.html", context)
                response["Cache-Control"] = "no-store"
                return response
        return super().add_view(request, form_url, extra_context)

    def save_model(self, request, obj, form, change):  # pragma: no cover - add goes through add_view
        raise ValidationError(_("Tokens are created through the service."))

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        names = [tokens.revoke_token(token.name, actor=request.user).name for token in queryset]
        self.message_user(request, _("Revoked: %(names)s.") % {"names": ", ".join(names)}, messages.SUCCESS)
