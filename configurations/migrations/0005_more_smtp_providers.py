"""More SMTP provider templates, with their published hosts, ports and TLS settings.

All use port 587 with STARTTLS (``secure`` = "true"), which each provider documents for SMTP submission.
"""

from django.db import migrations

PROVIDERS = [
    {
        "provider_name": "amazon_ses",
        "description": "Amazon SES SMTP interface (SMTP credentials, not AWS access keys)",
        "template_data": {
            "configs": {
                "host": "email-smtp.{{AWS_REGION}}.amazonaws.com",
                "port": "587",
                "secure": "true",
                "auth_user": "{{SES_SMTP_USERNAME}}",
                "auth_pass": "{{SES_SMTP_PASSWORD}}",
            },
            "variables": [
                {
                    "name": "AWS_REGION",
                    "description": "AWS region of your SES identity",
                    "required": True,
                    "example": "eu-west-1",
                    "validation": {"pattern": "^[a-z]{2}(-[a-z]+)+-[0-9]+$"},
                },
                {
                    "name": "SES_SMTP_USERNAME",
                    "description": "SES SMTP user name",
                    "required": True,
                    "example": "AKIAIOSFODNN7EXAMPLE",
                    "validation": {"pattern": "^[A-Z0-9]{16,128}$"},
                },
                {
                    "name": "SES_SMTP_PASSWORD",
                    "description": "SES SMTP password",
                    "required": True,
                    "validation": {"minLength": 20},
                },
            ],
            "instructions": [
                "1. In the Amazon SES console, open SMTP settings and create SMTP credentials",
                "2. Verify the sending domain or address in the same region",
                "3. Use the SMTP user name and password shown once at creation (not your AWS access keys)",
            ],
        },
    },
    {
        "provider_name": "mailgun",
        "description": "Mailgun SMTP (US or EU region)",
        "template_data": {
            "configs": {
                "host": "{{MAILGUN_SMTP_HOST}}",
                "port": "587",
                "secure": "true",
                "auth_user": "{{MAILGUN_SMTP_LOGIN}}",
                "auth_pass": "{{MAILGUN_SMTP_PASSWORD}}",
            },
            "variables": [
                {
                    "name": "MAILGUN_SMTP_HOST",
                    "description": "smtp.mailgun.org (US) or smtp.eu.mailgun.org (EU)",
                    "required": True,
                    "example": "smtp.mailgun.org",
                    "validation": {"options": ["smtp.mailgun.org", "smtp.eu.mailgun.org"]},
                },
                {
                    "name": "MAILGUN_SMTP_LOGIN",
                    "description": "SMTP login of your sending domain",
                    "required": True,
                    "example": "postmaster@mg.example.com",
                    "validation": {"custom": {"emailValidation": True}},
                },
                {
                    "name": "MAILGUN_SMTP_PASSWORD",
                    "description": "SMTP password of that login",
                    "required": True,
                    "validation": {"minLength": 8},
                },
            ],
            "instructions": [
                "1. In Mailgun, open Sending > Domain settings > SMTP credentials",
                "2. Create or reset the SMTP password of a login on your sending domain",
                "3. Pick the host of your account's region (US or EU)",
            ],
        },
    },
    {
        "provider_name": "postmark",
        "description": "Postmark SMTP with an SMTP token (transactional message stream)",
        "template_data": {
            "configs": {
                "host": "smtp.postmarkapp.com",
                "port": "587",
                "secure": "true",
                "auth_user": "{{POSTMARK_ACCESS_KEY}}",
                "auth_pass": "{{POSTMARK_SECRET_KEY}}",
            },
            "variables": [
                {
                    "name": "POSTMARK_ACCESS_KEY",
                    "description": "SMTP token access key",
                    "required": True,
                    "validation": {"minLength": 8},
                },
                {
                    "name": "POSTMARK_SECRET_KEY",
                    "description": "SMTP token secret key",
                    "required": True,
                    "validation": {"minLength": 8},
                },
            ],
            "instructions": [
                "1. In Postmark, open your server > Default Transactional Stream > Settings",
                "2. Generate an SMTP token: its access key is the user name, its secret key the password",
            ],
        },
    },
    {
        "provider_name": "office365",
        "description": "Microsoft 365 / Exchange Online SMTP AUTH client submission",
        "template_data": {
            "configs": {
                "host": "smtp.office365.com",
                "port": "587",
                "secure": "true",
                "auth_user": "{{M365_MAILBOX}}",
                "auth_pass": "{{M365_PASSWORD}}",
            },
            "variables": [
                {
                    "name": "M365_MAILBOX",
                    "description": "Mailbox address that sends",
                    "required": True,
                    "example": "noreply@example.com",
                    "validation": {"custom": {"emailValidation": True}},
                },
                {
                    "name": "M365_PASSWORD",
                    "description": "Password (or app password) of that mailbox",
                    "required": True,
                    "validation": {"minLength": 8},
                },
            ],
            "instructions": [
                "1. Enable Authenticated SMTP (SMTP AUTH) for the mailbox in the Microsoft 365 admin center",
                "2. With multi-factor authentication, create an app password for the mailbox",
            ],
        },
    },
    {
        "provider_name": "brevo",
        "description": "Brevo (formerly Sendinblue) SMTP relay",
        "template_data": {
            "configs": {
                "host": "smtp-relay.brevo.com",
                "port": "587",
                "secure": "true",
                "auth_user": "{{BREVO_LOGIN}}",
                "auth_pass": "{{BREVO_SMTP_KEY}}",
            },
            "variables": [
                {
                    "name": "BREVO_LOGIN",
                    "description": "SMTP login shown in Brevo",
                    "required": True,
                    "example": "8a1b2c001@smtp-brevo.com",
                    "validation": {"custom": {"emailValidation": True}},
                },
                {
                    "name": "BREVO_SMTP_KEY",
                    "description": "SMTP key (starts with xsmtpsib-)",
                    "required": True,
                    "example": "xsmtpsib-...",
                    "validation": {"pattern": "^xsmtpsib-", "minLength": 20},
                },
            ],
            "instructions": ["1. In Brevo, open SMTP & API > SMTP and generate a new SMTP key"],
        },
    },
]


def load(apps, schema_editor) -> None:
    template = apps.get_model("configurations", "ConfigurationTemplate")
    db = schema_editor.connection.alias
    for row in PROVIDERS:
        template.objects.using(db).update_or_create(
            provider_name=row["provider_name"],
            category="smtp",
            defaults={"template_data": row["template_data"], "description": row["description"]},
        )


def unload(apps, schema_editor) -> None:
    apps.get_model("configurations", "ConfigurationTemplate").objects.using(schema_editor.connection.alias).filter(
        category="smtp", provider_name__in=[row["provider_name"] for row in PROVIDERS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("configurations", "0004_environment_permissions")]

    operations = [migrations.RunPython(load, unload)]
