"""After secrets are written through every path, no table holds a plaintext secret, and history holds no ciphertext.

Paths: services, the plain admin, the category editor, a provider template (service and admin action, whose
pending values wait in the session), an import (also of a key secret by its name only), key rotation. Every
table is read, the simple-history tables of metadata and templates included, and sessions are decoded.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from configurations import services
from configurations.core import crypto
from configurations.models import ConfigurationTemplate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HISTORY_TABLES = {"configuration_history", "configuration_history_archive"}


def _every_text_value() -> dict[str, list[str]]:
    """table -> every non-null value of every column, as text; sessions also decoded."""
    found: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            found[table] = [str(value) for row in cursor.fetchall() for value in row if value is not None]
    found["django_session (decoded)"] = [str(session.get_decoded()) for session in Session.objects.all()]
    return found


def test_no_plaintext_secret_anywhere(client, settings, tmp_path):
    secrets = ["service-secret-1", "service-secret-2", "admin-form-secret", "token-secret-9"]
    services.set_value(category="smtp", key="auth_pass", environment="production", value=secrets[0])
    services.set_value(category="smtp", key="auth_pass", environment="production", value=secrets[1])
    services.set_value(category="api", key="token", environment="test", value=secrets[3], is_encrypted=True)
    admin = UserFactory(username="scanner", is_staff=True, is_superuser=True)
    client.force_login(admin)
    row = services.set_value(category="smtp", key="auth_pass", environment="staging", value="initial-secret-0")
    response = client.post(
        reverse("admin:configurations_systemconfiguration_change", args=[row.pk]),
        {"config_value": secrets[2], "value_type": "string", "is_active": "on", "change_reason": "rotate"},
    )
    assert response.status_code == 302
    editor = reverse("admin:configurations_category_edit", args=["smtp", "test"])
    form = client.get(editor).context["form"]
    response = client.post(
        editor,
        {
            "version": form["version"].value(),
            "reason": "editor",
            "value__auth_pass": "editor-secret-3",
            "value__host": "smtp.example.com",
        },
    )
    assert response.status_code == 302
    services.apply_template(
        provider="sendgrid",
        category="smtp",
        environment="development",
        variables={"SENDGRID_API_KEY": "SG.template-secret-4"},
    )
    import_file = tmp_path / "secrets.json"
    import_file.write_text(
        '{"staging": {"api": {"key": {"value": "import-secret-5", "is_encrypted": true},'
        ' "webhook_secret": "named-secret-6"}}}'
    )
    call_command("import_configs", str(import_file), stdout=StringIO())
    gmail = ConfigurationTemplate.objects.get(provider_name="gmail")
    variables = {"var__EMAIL_USER": "me@gmail.com", "var__EMAIL_PASS": "pend ingx secr etsx"}
    action = {"action": "apply_to_environment", ACTION_CHECKBOX_NAME: [gmail.pk], "post": "preview",
              "environment": "test", **variables}  # fmt: skip
    preview = client.post(reverse("admin:configurations_configurationtemplate_changelist"), action)
    assert preview.status_code == 200 and Session.objects.exists()  # the pending application waits in the session
    secrets += ["editor-secret-3", "SG.template-secret-4", "import-secret-5", "named-secret-6", "pend ingx secr etsx"]
    settings.CONFIG_ENCRYPTION_KEYS = f"{crypto.new_key_entry('rotated')},{settings.CONFIG_ENCRYPTION_KEYS}"
    call_command("rotate_encryption_keys", stdout=StringIO())
    assert services.get_value(category="smtp", key="auth_pass", environment="staging") == secrets[2]

    values = _every_text_value()
    assert values["configuration_history"], "the history was written"
    for table, texts in values.items():
        for secret in [*secrets, "initial-secret-0"]:
            assert not any(secret in text for text in texts), f"{secret} found in {table}"
        if table in HISTORY_TABLES:
            assert not any("encrypted:AES256" in text for text in texts), f"ciphertext in {table}"
