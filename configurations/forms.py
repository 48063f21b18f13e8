"""Forms of the plain admin."""

from __future__ import annotations

from django import forms

from .models import SystemConfiguration


class SystemConfigurationForm(forms.ModelForm):
    """Edits one configuration; a secret's value is never rendered back into the page."""

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
        if self.instance.pk and self._instance_is_secret():
            field = self.fields["config_value"]
            field.widget = forms.PasswordInput(render_value=False)
            field.required = False
            field.help_text = "Secret: leave blank to keep the current value."

    def _instance_is_secret(self) -> bool:
        return SystemConfiguration.objects.with_secret_flag().filter(pk=self.instance.pk, is_secret=True).exists()

    def clean_config_value(self):
        value = self.cleaned_data.get("config_value")
        if not value and isinstance(self.fields["config_value"].widget, forms.PasswordInput):
            return self.instance.config_value
        return value
