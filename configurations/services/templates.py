"""Applying provider templates."""

from __future__ import annotations

import dataclasses

from django.core.exceptions import ValidationError
from django.utils.translation import pgettext_lazy
from django.views.decorators.debug import sensitive_variables

from ..core import templates_engine
from ..core.secrecy import conceal, name_is_secret
from ..core.vocabulary import PREVIEW_STATUS, SECRET_MASK, Environment
from ..data.audit import audit_context
from ..data.models import ConfigurationMetadata, ConfigurationTemplate, SystemConfiguration
from ..observability import metrics
from .changes import Change, PlannedChange, plan_changes, write_plans

STATUS_LABELS = {
    "new": pgettext_lazy("template preview", "new"),
    "changed": pgettext_lazy("template preview", "changed"),
    "same": pgettext_lazy("template preview", "same"),
}


@dataclasses.dataclass
class TemplateApplication:
    """A provider template planned (or applied) for one environment."""

    template: ConfigurationTemplate
    environment: str
    plans: list[PlannedChange]
    # Taken when the application is made, before anything is written: a write updates the plans' rows in place.
    rows: list[dict] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.rows = self._rows()

    def preview(self) -> list[dict]:
        """Key by key: status (new, changed, same), current (before the apply) and new value, secrets masked."""
        return self.rows

    def _rows(self) -> list[dict]:
        rows = []
        for plan in self.plans:
            current = None
            if plan.row is not None and plan.row.is_active:
                current = SECRET_MASK if plan.secret else plan.row.config_value
            rows.append(
                {
                    "key": plan.change.key,
                    "status": PREVIEW_STATUS[plan.outcome],
                    "status_label": str(STATUS_LABELS[PREVIEW_STATUS[plan.outcome]]),
                    "secret": plan.secret,
                    "current": current,
                    "new": SECRET_MASK if plan.secret else plan.text,
                }
            )
        return rows


def secret_variables(template: ConfigurationTemplate) -> set[str]:
    """Variables that are secret: declared ``"secret": true``, or feeding a key that is a secret.

    A key is a secret by its metadata (password), by its name (CONFIG_SECRET_KEY_PATTERNS), or by its row
    being encrypted in any environment.
    """
    data = template.template_data
    secret_keys = _secret_keys(template.category, set(data["configs"]))
    return {
        v.name
        for v in templates_engine.variables(data)
        if v.secret or set(templates_engine.keys_using(data, v.name)) & secret_keys
    }


def _secret_keys(category: str, keys: set[str]) -> set[str]:
    encrypted = SystemConfiguration.objects.filter(category=category, config_key__in=keys, is_encrypted=True)
    found = ConfigurationMetadata.objects.password_keys(category) & keys
    found |= set(encrypted.values_list("config_key", flat=True).distinct())
    return found | {key for key in keys if name_is_secret(key)}


@sensitive_variables()
def plan_template(
    *, provider: str, category: str, environment: str, variables: dict[str, str], actor=None
) -> TemplateApplication:
    """Validate a template application without writing; ValidationError names what is wrong.

    Planning for an environment the acting user may not edit is refused (EnvironmentPermissionDenied).
    """
    template, changes = _template_changes(provider, category, environment, variables)
    return TemplateApplication(template, environment, _plan_or_explain(template, changes, actor=actor))


@sensitive_variables()
def template_changes(
    *, provider: str, category: str, environment: str, variables: dict[str, str], actor=None
) -> list[Change]:
    """The changes applying the template would write (validated, unchanged keys left out): a change request's items."""
    template, changes = _template_changes(provider, category, environment, variables)
    return [plan.change for plan in _plan_or_explain(template, changes, actor=actor) if plan.writes]


@sensitive_variables()
def apply_template(
    *,
    provider: str,
    category: str,
    environment: str,
    variables: dict[str, str],
    actor=None,
    reason: str | None = None,
    dry_run: bool = False,
) -> TemplateApplication:
    """Apply a provider template to an environment: all keys in one transaction, or none.

    Values are checked against the variables' own rules and the target keys' metadata rules; secret keys
    are encrypted; keys not in the template are untouched; applying the same values again writes nothing.
    """
    if dry_run:
        return plan_template(
            provider=provider, category=category, environment=environment, variables=variables, actor=actor
        )
    template, changes = _template_changes(provider, category, environment, variables)
    with (
        metrics.OPERATION_SECONDS.labels(operation="apply_template").time(),
        audit_context(actor=actor, reason=reason or f"Applied template {template.provider_name}"),
    ):
        application = TemplateApplication(template, environment, _plan_or_explain(template, changes, lock=True,
                                                                                 actor=actor))  # fmt: skip
        write_plans(application.plans)
    return application


@sensitive_variables()
def _template_changes(provider: str, category: str, environment: str, given: dict[str, str]):
    template = ConfigurationTemplate.objects.filter(provider_name=provider, category=category, is_active=True).first()
    if template is None:
        known = ", ".join(
            ConfigurationTemplate.objects.filter(category=category, is_active=True).values_list(
                "provider_name", flat=True
            )
        )
        raise ValidationError(
            f"unknown provider {provider!r} for category {category!r} (available: {known or 'none'})", code="provider"
        )
    if environment not in Environment.values:
        raise ValidationError(
            f"unknown environment {environment!r}; use one of {', '.join(Environment.values)}", code="environment"
        )
    problems = templates_engine.variable_problems(template.template_data, given, template=provider)
    if problems:
        raise ValidationError([ValidationError(p, code="variable") for p in problems])
    rendered = templates_engine.render(template.template_data, given)
    secret_names = secret_variables(template)
    # A key fed by a secret variable is stored as a secret, whatever else it is.
    fed = {key for name in secret_names for key in templates_engine.keys_using(template.template_data, name)}
    changes = [
        Change(category, key, environment, conceal(value, key in fed), is_encrypted=True if key in fed else None)
        for key, value in rendered.items()
    ]
    return template, changes


def _plan_or_explain(template: ConfigurationTemplate, changes: list[Change], *, lock: bool = False, actor=None):
    """plan_changes, with each key's errors also naming the variables that fill it."""
    try:
        return plan_changes(changes, lock=lock, actor=actor)
    except ValidationError as error:
        data = template.template_data
        messages = []
        for change in changes:
            for problem in error.error_dict.get(change.label, []):
                names = templates_engine.PLACEHOLDER.findall(data["configs"][change.key])
                via = f" (from variable {', '.join(names)})" if names else ""
                messages.append(ValidationError(f"{problem.message}{via}", code=problem.code))
        raise ValidationError(messages) from None
