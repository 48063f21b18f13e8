"""Every admin page that touches a secret is scanned for its plaintext and its envelope."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from configurations import services
from configurations.models import (
    ConfigurationHistory,
    ConfigurationMetadata,
    ConfigurationTemplate,
    SystemConfiguration,
)
from tests.factories import UserFactory, editor_of

pytestmark = pytest.mark.django_db
SECRET = "never-show-me-42"


@pytest.fixture
def secret_row(db):
    services.set_value(category="smtp", key="auth_pass", environment="production", value="first-" + SECRET)
    row = services.set_value(category="smtp", key="auth_pass", environment="production", value=SECRET)
    services.set_value(category="api", key="token", environment="staging", value=SECRET, is_encrypted=True)
    return row


def _pages(row) -> list[str]:
    entry = ConfigurationHistory.objects.filter(config_id=row.pk).first()
    meta = ConfigurationMetadata.objects.get(category="smtp", config_key="auth_pass")
    template = ConfigurationTemplate.objects.first()
    return [
        reverse("admin:index"),
        reverse("admin:configurations_systemconfiguration_changelist"),
        reverse("admin:configurations_systemconfiguration_changelist") + "?q=auth_pass",
        reverse("admin:configurations_systemconfiguration_change", args=[row.pk]),
        reverse("admin:configurations_category_overview"),
        reverse("admin:configurations_category_edit", args=["smtp", "production"]),
        reverse("admin:configurations_category_edit", args=["api", "staging"]),
        reverse("admin:configurations_category_compare", args=["smtp"]) + "?left=staging&right=production",
        reverse("admin:configurations_category_compare", args=["api"]) + "?left=staging&right=production",
        reverse("admin:configurations_history"),
        reverse("admin:configurations_history") + f"?config={row.pk}",
        reverse("admin:configurations_configurationhistory_change", args=[entry.pk]),
        reverse("admin:configurations_configurationhistoryarchive_changelist"),
        reverse("admin:configurations_configurationmetadata_history", args=[meta.pk]),
        reverse("admin:configurations_configurationtemplate_history", args=[template.pk]),
        reverse("admin:configurations_configurationmetadata_change", args=[meta.pk]),
    ]


def _viewer(client):
    """A staff user who may view every table but edit nothing."""
    user = UserFactory(username="viewer", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    client.force_login(user)


def _developer(client):
    """A staff user with every model permission who may edit development only."""
    user = editor_of("development", username="dev-only")
    user.user_permissions.add(*Permission.objects.exclude(codename__startswith="edit_"))
    client.force_login(user)


@pytest.mark.parametrize("who", ["superuser", "view-only", "development-only"])
def test_no_page_shows_a_secret_or_its_envelope(client, admin_user, secret_row, who):
    {"superuser": lambda c: c.force_login(admin_user), "view-only": _viewer, "development-only": _developer}[who](
        client
    )
    envelope = SystemConfiguration.objects.get(pk=secret_row.pk).config_value
    for url in _pages(secret_row):
        response = client.get(url)
        assert response.status_code == 200 or (who != "superuser" and response.status_code == 403), url
        html = response.content.decode()
        assert SECRET not in html, url
        assert envelope not in html and "encrypted:AES256" not in html, url


def test_a_failed_save_does_not_echo_the_secret(admin_client, secret_row):
    url = reverse("admin:configurations_category_edit", args=["smtp", "production"])
    form = admin_client.get(url).context["form"]
    response = admin_client.post(url, {"version": form["version"].value(), "reason": "x",
                                       "value__auth_pass": "short", "value__port": "99999"})  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200 and "Password must be at least 8 characters long" in html
    assert 'value="short"' not in html and SECRET not in html
