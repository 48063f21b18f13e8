"""Forms of the plain admin."""

from __future__ import annotations

from django import forms

from . import crypto, services
from .models import SystemConfiguration


class SystemConfigurationForm(forms.ModelForm):
    """Edits one configuration through the service; a secret is never rendered back into the page."""

    change_reason = forms.CharField(
        label="Reason for change",
        max_length=1000,
        help_text="Recorded in the configuration history with your name, IP address and browser.",
    )

    class Meta:
        model = SystemConfiguration
        fields = ("category", "config_key", "environment", "config_value", "value_type", "is_encrypted", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_secret = bool(self.instance.pk) and self._instance_is_secret()
        if self.is_secret and "config_value" in self.fields:
            field = self.fields["config_value"]
            field.widget = forms.PasswordInput(render_value=False)
            field.required = False
            field.help_text = "Secret: leave blank to keep the current value."

    def _instance_is_secret(self) -> bool:
        return SystemConfiguration.objects.with_secret_flag().filter(pk=self.instance.pk, is_secret=True).exists()

    def clean_config_value(self):
        value = self.cleaned_data.get("config_value")
        if not value and self.is_secret:
            # Keep the current secret: hand the service its plaintext, so nothing is re-encrypted.
            try:
                return services.plaintext(SystemConfiguration.objects.get(pk=self.instance.pk))
            except crypto.DecryptionError as error:
                raise forms.ValidationError(f"The current value cannot be kept: {error}") from None
        return value

    def change(self) -> services.Change:
        data = self.cleaned_data
        return services.Change(
            category=data.get("category", self.instance.category),
            key=data.get("config_key", self.instance.config_key),
            environment=data.get("environment", self.instance.environment),
            value=data.get("config_value"),
            value_type=data.get("value_type"),
            is_encrypted=data.get("is_encrypted") or None,
        )
