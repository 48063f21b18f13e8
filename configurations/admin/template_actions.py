"""The "Apply to environment…" action on the templates changelist.

It follows Django's delete_selected: the first POST renders the form page (instructions, variables,
environment, reason), ``post=preview`` validates and shows key by key what will change, ``post=yes``
applies through ``services.apply_template`` in one transaction. Variable values wait between preview and
confirmation in the session, secrets encrypted, so no secret is ever put back into a page.
"""

from __future__ import annotations

import secrets

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from .. import services
from ..core import crypto
from ..core.secrecy import Secret, reveal
from ..core.vocabulary import counted
from ..services import permissions
from . import review_gate, safeguards
from .forms import ApplyTemplateForm

SESSION_KEY = "configurations_pending_templates"


@admin.action(permissions=["view"], description=_("Apply to environment…"))
@method_decorator(sensitive_post_parameters())  # an action is called like a method of the ModelAdmin
def apply_to_environment(modeladmin, request, queryset):
    """The admin action: apply the one selected template to an environment (preview, then confirm)."""
    if queryset.count() != 1:
        modeladmin.message_user(request, _("Select exactly one template to apply."), messages.WARNING)
        return None
    template = queryset.get()
    secret_names = services.secret_variables(template)
    stage = request.POST.get("post")
    if stage == "yes":
        return _confirm(modeladmin, request, template, secret_names)
    if stage == "back":
        pending = _pending(request, pop=False)
        initial = {**(pending or {}).get("plain", {}), "environment": (pending or {}).get("environment")}
        form = _form(request, template, secret_names, initial={_field(k): v for k, v in initial.items()})
        return _form_page(modeladmin, request, template, form)
    if stage == "preview":
        form = _form(request, template, secret_names, request.POST)
        if form.is_valid():
            return _preview(modeladmin, request, template, form)
        return _form_page(modeladmin, request, template, form)
    return _form_page(modeladmin, request, template, _form(request, template, secret_names))


def _form(request, template, secret_names, *args, **kwargs) -> ApplyTemplateForm:
    environments = permissions.editable_environments(request.user)
    return ApplyTemplateForm(template, secret_names, *args, environments=environments, **kwargs)


def _field(name: str) -> str:
    return name if name in ("environment", "reason") else f"var__{name}"


def _context(modeladmin, request, template, **extra) -> dict:
    return {
        **modeladmin.admin_site.each_context(request),
        "title": _("Apply template %(provider)s") % {"provider": template.provider_name},
        "opts": modeladmin.model._meta,
        "template_obj": template,
        "instructions": template.template_data.get("instructions", []),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        **extra,
    }


def _form_page(modeladmin, request, template, form):
    context = _context(modeladmin, request, template, form=form)
    return TemplateResponse(request, "admin/configurations/configurationtemplate/apply_form.html", context)


@sensitive_variables()
def _preview(modeladmin, request, template, form):
    environment = form.cleaned_data["environment"]
    permissions.require_edit(request.user, environment)
    variables = form.variables()
    try:
        application = services.plan_template(
            provider=template.provider_name, category=template.category, environment=environment, variables=variables
        )
    except ValidationError as error:
        form.add_service_errors(error)
        return _form_page(modeladmin, request, template, form)
    token = _store_pending(request, template, environment, form.cleaned_data["reason"], variables, form.secret_names)
    context = _context(
        modeladmin,
        request,
        template,
        environment=environment,
        rows=application.preview(),
        token=token,
        reason=form.cleaned_data["reason"],
        review=review_gate.notice(request, environment),
        confirm_production=safeguards.asks(environment, review_gate.notice(request, environment)),
    )
    return TemplateResponse(request, "admin/configurations/configurationtemplate/apply_preview.html", context)


@sensitive_variables()
def _confirm(modeladmin, request, template, secret_names):
    pending = _pending(request, pop=False)
    if pending is None or pending["template"] != template.pk:
        modeladmin.message_user(request, _("That preview has expired; please start again."), messages.ERROR)
        return None
    permissions.require_edit(request.user, pending["environment"])
    if safeguards.missing(request, pending["environment"], review_gate.notice(request, pending["environment"])):
        modeladmin.message_user(request, safeguards.REFUSAL, messages.ERROR)
        return _back_to_form(modeladmin, request, template, secret_names, pending)
    _pending(request, pop=True)
    variables = {**pending["plain"], **_decrypt_secrets(request, pending)}
    where = {"provider": template.provider_name, "category": template.category, "environment": pending["environment"]}
    try:
        if review_gate.needs_request(request, pending["environment"]):
            return _request_instead(request, template, where, variables, pending["reason"])
        if review_gate.wants_bypass(request) and not pending["reason"]:
            raise ValidationError("A bypass of the review needs a reason: go back and give one.")
        with review_gate.direct_write(request):
            application = services.apply_template(**where, variables=variables, reason=pending["reason"] or None)
    except ValidationError as error:
        for message in error.messages:
            modeladmin.message_user(request, message, messages.ERROR)
        return _back_to_form(modeladmin, request, template, secret_names, pending)
    changed = [row["key"] for row in application.preview() if row["status"] != "same"]
    modeladmin.message_user(
        request,
        f"Applied {template.provider_name} to {template.category} in {pending['environment']}: "
        f"{counted(len(changed), 'key')} changed{': ' + ', '.join(changed) if changed else ''}.",
        messages.SUCCESS,
    )
    return redirect(
        "admin:configurations_category_edit", category=template.category, environment=pending["environment"]
    )


def _back_to_form(modeladmin, request, template, secret_names, pending):
    """The form again, with the plain variables, environment and reason given (secrets are typed again)."""
    given = {**pending["plain"], "environment": pending["environment"], "reason": pending["reason"]}
    form = _form(request, template, secret_names, initial={_field(k): v for k, v in given.items()})
    return _form_page(modeladmin, request, template, form)


@sensitive_variables()
def _request_instead(request, template, where: dict, variables: dict, reason: str):
    """The environment needs review: the keys the template would change become a change request."""
    items = services.template_changes(**where, variables=variables)
    if not items:
        messages.info(request, _("Nothing would change, so no change request was opened."))
        return redirect("admin:configurations_category_edit", category=where["category"],
                        environment=where["environment"])  # fmt: skip
    title = _("Apply template %(provider)s to %(category)s") % {"provider": template.provider_name,
                                                                  "category": template.category}  # fmt: skip
    return review_gate.open_instead(request, where["environment"], items, title=title, reason=reason)


@sensitive_variables()
def _store_pending(request, template, environment, reason, variables, secret_names) -> str:
    token = secrets.token_urlsafe(16)
    # Secret variables wait sealed with the encryption key; nothing readable without it reaches the session.
    sealed = {
        name: crypto.encrypt(reveal(value), environment="pending-template", category=token, key=name)
        for name, value in variables.items()
        if name in secret_names
    }
    plain = {name: value for name, value in variables.items() if name not in secret_names}
    # One pending application per session: a new preview replaces the last one.
    request.session[SESSION_KEY] = {
        "token": token,
        "template": template.pk,
        "environment": environment,
        "reason": reason,
        "plain": plain,
        "sealed": sealed,
    }
    return token


def _pending(request, *, pop: bool) -> dict | None:
    pending = request.session.get(SESSION_KEY)
    if not pending or pending.get("token") != request.POST.get("token"):
        return None
    if pop:
        del request.session[SESSION_KEY]
    return pending


@sensitive_variables()
def _decrypt_secrets(request, pending) -> dict[str, str]:
    try:
        return {
            name: Secret(crypto.decrypt(sealed, environment="pending-template", category=pending["token"], key=name))
            for name, sealed in pending["sealed"].items()
        }
    except crypto.DecryptionError as error:
        raise PermissionDenied(_("The pending template values cannot be read: %(error)s") % {"error": error}) from None
