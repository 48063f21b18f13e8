"""Initial data: the spec's SMTP metadata and provider templates.

The data is the spec's, with the corrections listed in docs/schema.md: templates
on port 587 set ``secure`` to "true" (STARTTLS, as the port's help text says),
Mailtrap's current sandbox host, and gmail's full variable definitions and
instructions from the spec's template structure.
"""

from django.db import migrations

SMTP_METADATA = [
    {
        "config_key": "host",
        "display_name": "SMTP Host",
        "description": "SMTP server hostname or IP address",
        "input_type": "text",
        "validation_rules": {"required": True, "pattern": "^[a-zA-Z0-9.-]+$", "minLength": 1, "maxLength": 255},
        "is_required": True,
        "sort_order": 1,
        "group_name": "Connection Settings",
        "help_text": "Enter your SMTP server hostname (e.g., smtp.gmail.com)",
    },
    {
        "config_key": "port",
        "display_name": "SMTP Port",
        "description": "SMTP server port number",
        "input_type": "number",
        "validation_rules": {"required": True, "min": 1, "max": 65535},
        "is_required": True,
        "sort_order": 2,
        "group_name": "Connection Settings",
        "help_text": "Common ports: 25 (plain), 587 (STARTTLS), 465 (SSL)",
    },
    {
        "config_key": "secure",
        "display_name": "Use SSL/TLS",
        "description": "Enable secure connection",
        "input_type": "select",
        "validation_rules": {"required": True, "options": ["true", "false"]},
        "is_required": True,
        "sort_order": 3,
        "group_name": "Security Settings",
        "help_text": "Enable for ports 465 (SSL) or 587 (STARTTLS)",
    },
    {
        "config_key": "auth_user",
        "display_name": "Username",
        "description": "SMTP authentication username",
        "input_type": "text",
        "validation_rules": {"required": True, "minLength": 3},
        "is_required": True,
        "sort_order": 4,
        "group_name": "Authentication",
        "help_text": "Usually your email address for Gmail/SendGrid",
    },
    {
        "config_key": "auth_pass",
        "display_name": "Password",
        "description": "SMTP authentication password",
        "input_type": "password",
        "validation_rules": {"required": True, "minLength": 8},
        "is_required": True,
        "sort_order": 5,
        "group_name": "Authentication",
        "help_text": "Use App Password for Gmail, API Key for SendGrid",
    },
]

TEMPLATES = [
    {
        "provider_name": "gmail",
        "description": "Gmail SMTP configuration template with App Password authentication",
        "template_data": {
            "configs": {
                "host": "smtp.gmail.com",
                "port": "587",
                "secure": "true",
                "auth_user": "{{EMAIL_USER}}",
                "auth_pass": "{{EMAIL_PASS}}",
            },
            "variables": [
                {
                    "name": "EMAIL_USER",
                    "description": "Gmail email address",
                    "required": True,
                    "example": "your-email@gmail.com",
                    "validation": {"pattern": "^[^@]+@gmail\\.com$"},
                },
                {
                    "name": "EMAIL_PASS",
                    "description": "Gmail App Password (16 letters, spaces allowed between groups of four)",
                    "required": True,
                    "example": "abcd efgh ijkl mnop",
                    "validation": {"pattern": "^[a-z]{4} ?[a-z]{4} ?[a-z]{4} ?[a-z]{4}$"},
                },
            ],
            "instructions": [
                "1. Enable 2FA on your Gmail account",
                "2. Generate an App Password in Google Account settings",
                "3. Use the 16-character App Password (not your regular password)",
            ],
        },
    },
    {
        "provider_name": "sendgrid",
        "description": "SendGrid SMTP configuration template",
        "template_data": {
            "configs": {
                "host": "smtp.sendgrid.net",
                "port": "587",
                "secure": "true",
                "auth_user": "apikey",
                "auth_pass": "{{SENDGRID_API_KEY}}",
            },
            "variables": [
                {
                    "name": "SENDGRID_API_KEY",
                    "description": "SendGrid API Key",
                    "required": True,
                    "example": "SG....",
                    "validation": {"pattern": "^SG\\.", "minLength": 8},
                }
            ],
            "instructions": [
                "1. In SendGrid, open Settings > API Keys and create a key with Mail Send permission",
                "2. The SMTP username is the literal word 'apikey'; the password is the API key",
            ],
        },
    },
    {
        "provider_name": "mailtrap",
        "description": "Mailtrap SMTP configuration for testing emails",
        "template_data": {
            "configs": {
                "host": "sandbox.smtp.mailtrap.io",
                "port": "587",
                "secure": "true",
                "auth_user": "{{MAILTRAP_USER}}",
                "auth_pass": "{{MAILTRAP_PASS}}",
            },
            "variables": [
                {"name": "MAILTRAP_USER", "description": "Mailtrap username", "required": True},
                {"name": "MAILTRAP_PASS", "description": "Mailtrap password", "required": True},
            ],
            "instructions": [
                "1. Open your Mailtrap inbox and choose SMTP Settings",
                "2. Copy the username and password shown there",
            ],
        },
    },
]


def load(apps, schema_editor) -> None:
    metadata = apps.get_model("configurations", "ConfigurationMetadata")
    template = apps.get_model("configurations", "ConfigurationTemplate")
    db = schema_editor.connection.alias
    for row in SMTP_METADATA:
        key = row["config_key"]
        metadata.objects.using(db).update_or_create(
            category="smtp", config_key=key, defaults={k: v for k, v in row.items() if k != "config_key"}
        )
    for row in TEMPLATES:
        template.objects.using(db).update_or_create(
            provider_name=row["provider_name"],
            category="smtp",
            defaults={"template_data": row["template_data"], "description": row["description"]},
        )


def unload(apps, schema_editor) -> None:
    db = schema_editor.connection.alias
    apps.get_model("configurations", "ConfigurationMetadata").objects.using(db).filter(
        category="smtp", config_key__in=[row["config_key"] for row in SMTP_METADATA]
    ).delete()
    apps.get_model("configurations", "ConfigurationTemplate").objects.using(db).filter(
        category="smtp", provider_name__in=[row["provider_name"] for row in TEMPLATES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("configurations", "0002_history_triggers")]

    operations = [migrations.RunPython(load, unload)]
