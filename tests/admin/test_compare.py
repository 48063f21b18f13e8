"""Compare one category in two environments, and copy keys between them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from configurations import services
from configurations.models import ConfigurationHistory

pytestmark = pytest.mark.django_db


def url(left="staging", right="production"):
    return reverse("admin:configurations_category_compare", args=["smtp"]) + f"?left={left}&right={right}"


@pytest.fixture
def two_environments(db):
    for env, port, password in [("staging", "2525", "staging-password"), ("production", "587", "prod-password")]:
        services.set_value(category="smtp", key="host", environment=env, value="smtp.example.com")
        services.set_value(category="smtp", key="port", environment=env, value=port)
        services.set_value(category="smtp", key="auth_pass", environment=env, value=password)
    services.set_value(category="smtp", key="auth_user", environment="staging", value="me@example.com")


def test_side_by_side_with_differences(admin_client, two_environments):
    response = admin_client.get(url())
    rows = {row["key"]: row for row in response.context["rows"]}
    assert (rows["host"]["status"], rows["port"]["status"]) == ("same", "different")
    assert (rows["port"]["left_shown"], rows["port"]["right_shown"]) == ("2525", "587")
    assert (rows["auth_user"]["left_shown"], rows["auth_user"]["right_shown"]) == ("me@example.com", None)
    assert rows["secure"]["status"] == "same"  # unset on both sides
    html = response.content.decode()
    assert 'class="different" data-key="port"' in html


def test_secrets_show_only_set_unset_same_different(admin_client, two_environments):
    services.set_value(category="smtp", key="auth_pass", environment="test", value="prod-password")
    rows = {row["key"]: row for row in admin_client.get(url()).context["rows"]}
    assert (rows["auth_pass"]["left_shown"], rows["auth_pass"]["right_shown"], rows["auth_pass"]["status"]) == (
        "set", "set", "different")  # fmt: skip
    same = {row["key"]: row for row in admin_client.get(url("test", "production")).context["rows"]}
    assert same["auth_pass"]["status"] == "same"  # same plaintext, different envelopes
    html = admin_client.get(url()).content.decode()
    for leak in ["staging-password", "prod-password", "encrypted:"]:
        assert leak not in html


def test_copy_selected_keys_through_the_service(admin_client, admin_user, two_environments, history):
    history.mark()
    data = {"keys": ["port", "auth_pass"], "target": "production", "reason": "promote"}
    assert 'name="confirm_production"' in admin_client.get(url()).content.decode()
    refused = admin_client.post(url(), data, follow=True)  # into production: the box, or nothing is written
    assert "tick “Yes, change production”" in refused.content.decode()
    assert history.rows() == [] and "staging-password" not in refused.content.decode()
    response = admin_client.post(url(), {**data, "confirm_production": "yes"})
    assert response.status_code == 302
    assert services.get_value(category="smtp", key="port", environment="production") == 2525
    assert services.get_value(category="smtp", key="auth_pass", environment="production") == "staging-password"
    rows = history.rows()
    assert sorted(r.config_key for r in rows) == ["auth_pass", "port"]
    assert {(r.changed_by, r.change_reason, r.environment) for r in rows} == {(admin_user, "promote", "production")}


def test_copy_needs_the_target_permission(staff_client, two_environments, history):
    client = staff_client("edit_staging")
    html = client.get(url()).content.decode()
    assert "Copy selected staging → production" not in html and "Copy selected production → staging" in html
    history.mark()
    response = client.post(url(), {"keys": ["port"], "target": "production", "reason": "sneaky"})
    assert response.status_code == 403
    assert history.rows() == []
    assert client.post(url(), {"keys": ["port"], "target": "staging", "reason": "pull"}).status_code == 302
    assert services.get_value(category="smtp", key="port", environment="staging") == 587


def test_copy_needs_a_reason_and_keys(admin_client, two_environments):
    before = ConfigurationHistory.objects.count()
    response = admin_client.post(url(), {"keys": ["port"], "target": "production", "reason": ""}, follow=True)
    assert "give a reason" in response.content.decode()
    assert ConfigurationHistory.objects.count() == before


def test_copy_of_an_unset_key_is_refused(admin_client, two_environments):
    response = admin_client.post(url(), {"keys": ["auth_user"], "target": "staging", "reason": "x"}, follow=True)
    assert "no active value to copy" in response.content.decode()
