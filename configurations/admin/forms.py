"""The admin's forms: one configuration (plain admin), a whole category (the editor), applying a template."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .. import services
from ..core import crypto, templates_engine, validation
from ..core.secrecy import Secret, name_is_secret
from ..core.vocabulary import ENVIRONMENTS, INPUT_OF_VALUE_TYPE, InputType, ValueType
from ..data.models import ConfigurationMetadata, SystemConfiguration
from ..services import permissions
from .editor import CategoryState, EditorField, has_key


class SecretField(forms.CharField):
    """A password input whose cleaned value is a ``Secret``: masked in every repr, never rendered back."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))
        super().__init__(strip=False, **kwargs)

    def clean(self, value):
        cleaned = super().clean(value)
        return Secret(cleaned) if cleaned else cleaned


class SystemConfigurationForm(forms.ModelForm):
    """Edits one configuration through the service; a secret is never rendered back into the page."""

    change_reason = forms.CharField(
        label=_("Reason for change"),
        max_length=1000,
        help_text=_("Recorded in the configuration history with your name, IP address and browser."),
    )

    class Meta:
        model = SystemConfiguration
        fields = ("category", "config_key", "environment", "config_value", "value_type", "is_encrypted", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_secret = bool(self.instance.pk) and self._instance_is_secret()
        if not self.instance.pk and self.is_bound:
            self.is_secret = name_is_secret(str(self.data.get("config_key", "")))
        if self.is_secret and "config_value" in self.fields:
            self.fields["config_value"] = SecretField(
                required=False, label=_("Config value"), help_text=_("Secret: leave blank to keep the current value.")
            )
        if self.is_secret and "is_encrypted" in self.fields:
            field = self.fields["is_encrypted"]
            field.disabled, field.initial = True, True
            field.help_text = "A secret is always stored encrypted; it cannot be turned into plaintext."

    def _instance_is_secret(self) -> bool:
        return SystemConfiguration.objects.with_secret_flag().filter(pk=self.instance.pk, is_secret=True).exists()

    def clean_config_value(self):
        value = self.cleaned_data.get("config_value")
        if not value and self.is_secret and self.instance.pk:
            # Keep the current secret: hand the service its plaintext, so nothing is re-encrypted.
            try:
                return Secret(SystemConfiguration.objects.get(pk=self.instance.pk).plaintext())
            except crypto.DecryptionError as error:
                message = _("The current value cannot be kept: %(error)s") % {"error": error}
                raise forms.ValidationError(message) from None
        return value

    def clean(self):
        cleaned = super().clean()
        environment = cleaned.get("environment", self.instance.environment)
        user = getattr(self, "user", None)
        if user is not None and environment and not permissions.can_edit(user, environment):
            message = _("You may not edit the %(environment)s environment.") % {"environment": environment}
            raise forms.ValidationError(message)
        if not self.errors:
            self._check_with_the_service()
        return cleaned

    def _get_validation_exclusions(self):
        # The value is checked by the service (_check_with_the_service), which knows a Secret; the model's
        # field cleaning would turn one into its mask.
        exclusions = super()._get_validation_exclusions()
        exclusions.add("config_value")
        return exclusions

    def _check_with_the_service(self) -> None:
        """The service's own checks (type, rules, encryption), so that saving cannot fail after a valid form."""
        try:
            services.plan_changes([self.change()])
        except ValidationError as error:
            messages = [
                e.message.removeprefix(f"{label}: ") for label, errors in error.error_dict.items() for e in errors
            ]
            self.add_error("config_value" if "config_value" in self.fields else None, messages)

    def change(self) -> services.Change:
        data = self.cleaned_data
        return services.Change(
            category=data.get("category", self.instance.category),
            key=data.get("config_key", self.instance.config_key),
            environment=data.get("environment", self.instance.environment),
            value=data.get("config_value"),
            value_type=data.get("value_type"),
            # Unticked on a secret asks to store it in the clear: the service refuses that, and says so.
            is_encrypted=data.get("is_encrypted"),
        )


# ------------------------------------------------------------------ the grouped category editor


def _text(widget) -> forms.Field:
    # Lenient on purpose: the one validation engine (via the service) checks every rule.
    return forms.CharField(required=False, strip=False, widget=widget)


def _choices(field) -> list[tuple[str, str]]:
    options = [validation.option_text(o) for o in field.rules.get("options", [])]
    # A blank choice unless a value is required and there is one to show: nothing is pre-selected by accident.
    blank = [] if field.required and field.initial not in (None, "") else [("", "---------")]
    return blank + [(o, o) for o in options]


FIELD_BUILDERS = {
    InputType.TEXT: lambda f: _text(forms.TextInput(attrs={"size": 60})),
    InputType.TEXTAREA: lambda f: _text(forms.Textarea(attrs={"rows": 4, "cols": 60})),
    InputType.NUMBER: lambda f: _text(forms.NumberInput(attrs={"step": "1" if f.rules.get("integer") else "any"})),
    InputType.SELECT: lambda f: _text(forms.Select(choices=_choices(f))),
    InputType.RADIO: lambda f: _text(forms.RadioSelect(choices=_choices(f))),
    InputType.CHECKBOX: lambda f: forms.BooleanField(required=False),
    InputType.PASSWORD: lambda f: SecretField(required=False),
}


class CategoryForm(forms.Form):
    """All keys of one category in one environment, built from configuration_metadata."""

    reason = forms.CharField(
        label=_("Reason for change"),
        max_length=1000,
        widget=forms.TextInput(attrs={"size": 80}),
        help_text=_("Required. Recorded in the history with your name, IP address and browser."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    new_key = forms.CharField(
        label=_("New key"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"size": 30}),
        help_text=_("Optional: add a key to this category (letters, digits, _ - .)."),
    )
    new_value = forms.CharField(
        label=_("Its value"), required=False, strip=False, widget=forms.TextInput(attrs={"size": 40})
    )
    new_type = forms.ChoiceField(
        label=_("Its type"), choices=ValueType.choices, initial=ValueType.STRING, required=False,
        help_text=_("How the value is stored and read: 25 as a number reads as the number 25."),
    )  # fmt: skip
    new_metadata = forms.BooleanField(
        label=_("Also create its metadata"), required=False,
        help_text=_("So the key gets its own field (by its type) in every environment; rules can be added later."),
    )  # fmt: skip

    def __init__(self, snapshot: CategoryState, *args, read_only: bool = False, keys=None, **kwargs):
        """``keys``: the keys the page shows (a large category shows a group or a filter at a time); None: all."""
        super().__init__(*args, **kwargs)
        self.snapshot = snapshot
        self.fields["version"].initial = snapshot.version
        shown = None if keys is None else set(keys)
        for field in snapshot.fields:
            if shown is None or field.key in shown:
                self._add(field, read_only)
        if read_only:
            for form_field in self.fields.values():
                form_field.disabled = True

    def _add(self, field: EditorField, read_only: bool) -> None:
        form_field = FIELD_BUILDERS[InputType.PASSWORD if field.secret else field.input_type](field)
        form_field.label = field.label
        form_field.help_text = field.meta.help_text if field.meta and field.meta.help_text else ""
        if field.input_type == InputType.CHECKBOX:
            form_field.initial = field.initial == "true"
        else:
            form_field.initial = field.initial
        self.fields[value_name(field.key)] = form_field
        if field.secret:
            self.fields[f"{value_name(field.key)}__clear"] = forms.BooleanField(required=False, label=_("Clear"))
        elif field.default is not None and field.state == "modified":
            self.fields[f"{value_name(field.key)}__reset"] = forms.BooleanField(
                required=False, label=_("Reset to default")
            )

    def bound(self, key: str) -> dict:
        """The bound fields of one key, for the template."""
        name = value_name(key)
        return {"value": self[name], "clear": self._maybe(f"{name}__clear"), "reset": self._maybe(f"{name}__reset")}

    def _maybe(self, name: str):
        return self[name] if name in self.fields else None

    def clean_new_key(self):
        key = self.cleaned_data.get("new_key", "").strip()
        if key and has_key(self.snapshot, key):
            raise forms.ValidationError(_("%(key)s already exists in this category; change it above.") % {"key": key})
        return key

    def changes(self, current: CategoryState) -> list[services.Change]:
        """The values to write, compared with ``current`` (the locked rows); untouched defaults are skipped."""
        changes = []
        if self.cleaned_data.get("new_key"):
            key, value = self.cleaned_data["new_key"], self.cleaned_data.get("new_value", "")
            value_type = self.cleaned_data.get("new_type") or None
            changes.append(services.Change(current.category, key, current.environment, value, value_type=value_type))
        for field in current.fields:
            value = self._submitted(field)
            if value is None:
                continue
            if field.row is None and value == _untouched(field):
                continue  # nothing stored and nothing chosen beyond what the page showed
            changes.append(services.Change(current.category, field.key, current.environment, value))
        return changes

    def metadata_to_create(self) -> ConfigurationMetadata | None:
        """The metadata to create for the new key, when asked: its name as the label, the widget of its type."""
        key = self.cleaned_data.get("new_key")
        if not key or not self.cleaned_data.get("new_metadata"):
            return None
        value_type = self.cleaned_data.get("new_type") or ValueType.STRING
        return ConfigurationMetadata(
            category=self.snapshot.category, config_key=key, display_name=key.replace("_", " ").capitalize(),
            input_type=INPUT_OF_VALUE_TYPE.get(value_type, InputType.TEXT), value_type=value_type,
        )  # fmt: skip

    def typed_values(self, current: CategoryState) -> dict[str, str]:
        """What the user typed that differs from ``current`` (never a secret): kept beside a refused stale save."""
        typed = {}
        for field in current.fields:
            if field.secret:
                continue
            value = self._submitted(field)
            if value is not None and value != (field.current if field.row is not None else _untouched(field)):
                typed[field.key] = value
        return typed

    def _submitted(self, field: EditorField) -> str | None:
        name = value_name(field.key)
        if name not in self.cleaned_data:
            return None  # a key that appeared since the page was shown is left alone
        data = self.cleaned_data
        if field.secret:
            if data.get(f"{name}__clear"):
                return ""
            return data[name] or None  # blank keeps the current secret
        if data.get(f"{name}__reset"):
            return field.default
        if field.input_type == InputType.CHECKBOX:
            return "true" if data[name] else "false"
        return data[name]

    def add_service_errors(self, error: ValidationError) -> None:
        """Show the service's errors inline, on the field of the key they name."""
        by_label = {
            services.label(self.snapshot.category, f.key, self.snapshot.environment): f.key
            for f in self.snapshot.fields
        }
        new_key = self.cleaned_data.get("new_key")
        if new_key:
            by_label[services.label(self.snapshot.category, new_key, self.snapshot.environment)] = None
        for label_text, errors in error.error_dict.items():
            messages = [e.message.removeprefix(f"{label_text}: ") for e in errors]
            if label_text in by_label and by_label[label_text] is None:
                self.add_error("new_key", messages)
            else:
                key = by_label.get(label_text)
                self.add_error(value_name(key) if key else None, messages)


def _untouched(field: EditorField) -> str:
    if field.default is not None:
        return field.default
    return "false" if field.input_type == InputType.CHECKBOX else ""


def value_name(key: str) -> str:
    """The form field name of a key's value."""
    return f"value__{key}"


# ------------------------------------------------------------------------ applying a template


class ApplyTemplateForm(forms.Form):
    """Target environment, reason, and one input per template variable (password inputs for secrets)."""

    environment = forms.ChoiceField(label=_("Environment"), choices=[(env, env) for env in ENVIRONMENTS])
    reason = forms.CharField(
        label=_("Reason for change"),
        max_length=1000,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text=_("Required, like every write. Recorded in the history with your name, IP address and browser."),
    )

    def __init__(self, template, secret_names: set[str], *args, environments=ENVIRONMENTS, **kwargs):
        super().__init__(*args, **kwargs)
        self.template = template
        self.secret_names = secret_names
        # Only the environments this user may edit are offered, and none is chosen for them.
        self.fields["environment"].choices = [("", "---------"), *((env, env) for env in environments)]
        for variable in templates_engine.variables(template.template_data):
            # The label is the template's own words for the variable; its name (what commands take) is in the help.
            label = variable.description.rstrip(".") or variable.name
            example = _("Example: %(example)s") % {"example": variable.example} if variable.example else ""
            help_parts = [_("Variable %(name)s") % {"name": variable.name}, example]
            # Not required here: the template engine reports missing variables by name.
            options = {"label": label, "required": False, "help_text": ". ".join(p for p in help_parts if p)}
            if variable.name in secret_names:
                self.fields[f"var__{variable.name}"] = SecretField(**options)
            else:
                self.fields[f"var__{variable.name}"] = forms.CharField(strip=False, **options)
            self.fields[f"var__{variable.name}"].is_required_variable = variable.required

    def variables(self) -> dict[str, str]:
        return {
            name.removeprefix("var__"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("var__") and value not in (None, "")
        }

    def variable_fields(self):
        return [self[name] for name in self.fields if name.startswith("var__")]

    def add_service_errors(self, error: ValidationError) -> None:
        """Put each message on the variable it names, the rest on the form."""
        for message in error.messages:
            target = next(
                (
                    name
                    for name in self.fields
                    if name.startswith("var__") and f"variable {name.removeprefix('var__')}" in message
                ),
                None,
            )
            self.add_error(target, message)
