"""The admin journeys a newcomer tripped on (issue 14, part 2), through the real admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from configurations import services
from configurations.models import ConfigurationHistory, ConfigurationTemplate, SystemConfiguration
from tests.factories import editor_of

pytestmark = pytest.mark.django_db


def edit_url(category, environment):
    return reverse("admin:configurations_category_edit", args=[category, environment])


def test_a_category_without_metadata_is_editable_in_every_environment_and_takes_new_keys(admin_client):
    services.set_value(category="feature", key="beta", environment="test", value="on")
    overview = admin_client.get(reverse("admin:configurations_category_overview")).content.decode()
    assert edit_url("feature", "staging") in overview
    page = admin_client.get(edit_url("feature", "staging"))
    assert page.status_code == 200 and "No keys in staging yet" in page.content.decode()
    version = page.context["form"]["version"].value()
    data = {"version": version, "reason": "first", "new_key": "beta", "new_value": "off"}
    saved = admin_client.post(edit_url("feature", "staging"), data)
    assert saved.status_code == 302
    assert services.get_value(category="feature", key="beta", environment="staging") == "off"
    version = admin_client.get(edit_url("feature", "staging")).context["form"]["version"].value()
    bad = admin_client.post(edit_url("feature", "staging"), {**data, "version": version, "new_key": "a b"})
    assert bad.status_code == 200 and "key name 'a b'" in " ".join(bad.context["form"].errors["new_key"])
    assert admin_client.get(edit_url("nothing-here", "test")).status_code == 404


def test_a_development_editor_finds_the_editor_from_the_index(client):
    client.force_login(editor_of("development", username="dev-only"))
    index = client.get(reverse("admin:index")).content.decode()
    assert "have permission to view or edit anything" not in index
    assert reverse("admin:configurations_category_overview") in index
    assert client.get(reverse("admin:configurations_category_overview")).status_code == 200


def test_the_add_form_shows_no_database_default_object(admin_client):
    html = admin_client.get(reverse("admin:configurations_systemconfiguration_add")).content.decode()
    assert "DatabaseDefault" not in html


def test_empty_fields_without_a_default_say_not_set_and_compare_opens_the_right_pair(admin_client):
    html = admin_client.get(edit_url("smtp", "development")).content.decode()
    assert "not set" in html and ">default<" not in html.split("field-auth_user")[1].split("</div>")[1]
    compare = reverse("admin:configurations_category_compare", args=["smtp"])
    assert f"{compare}?left=development&amp;right=production" in html
    assert (
        f"{compare}?left=production&amp;right=staging"
        in admin_client.get(edit_url("smtp", "production")).content.decode()
    )


def test_users_sit_beside_groups_and_history_is_listed_once(admin_client):
    index = admin_client.get(reverse("admin:index"))
    apps = {app["app_label"]: [m["object_name"] for m in app["models"]] for app in index.context["app_list"]}
    assert "User" in apps["auth"] and "User" not in apps["configurations"]
    history_entries = [m for app in index.context["app_list"] for m in app["models"]
                       if m["admin_url"].startswith(reverse("admin:configurations_configurationhistory_changelist"))
                       or m["admin_url"] == reverse("admin:configurations_history")]  # fmt: skip
    assert len(history_entries) == 1  # "Change history" and "Configuration history" were the same page


def test_the_history_of_one_key_says_which_and_times_carry_their_zone(admin_client):
    row = services.set_value(category="smtp", key="host", environment="test", value="a.example.com")
    response = admin_client.get(reverse("admin:configurations_history") + f"?config={row.pk}")
    html = response.content.decode()
    assert "History of smtp.host [test]" in html and " UTC</a>" in html and "IP address" in html


def test_rollback_is_offered_only_where_the_user_may_roll_back(client):
    for value in ("p.example.com", "q.example.com"):
        services.set_value(category="smtp", key="host", environment="production", value=value)
    for value in ("d.example.com", "e.example.com"):
        services.set_value(category="smtp", key="host", environment="development", value=value)
    client.force_login(editor_of("development", username="dev-only"))
    html = client.get(reverse("admin:configurations_history")).content.decode()
    # One link: development's older entry (the newest holds the current value; production is not this user's).
    assert html.count("roll back to this") == 1
    assert SystemConfiguration.objects.filter(environment="development").count() == 1


def test_the_test_email_recipient_is_kept_and_the_page_says_saved_values_are_used(admin_client):
    url = reverse("admin:configurations_send_test_email", args=["smtp", "test"])
    admin_client.post(url, {"recipient": "ops@example.com"})
    html = admin_client.get(edit_url("smtp", "test")).content.decode()
    assert 'value="ops@example.com"' in html and "<strong>saved</strong>" in html


def test_pages_have_a_favicon(admin_client):
    assert "configurations/favicon.svg" in admin_client.get(reverse("admin:index")).content.decode()


def test_a_template_page_has_an_apply_button_and_room_for_its_json(admin_client):
    gmail = ConfigurationTemplate.objects.get(provider_name="gmail")
    html = admin_client.get(
        reverse("admin:configurations_configurationtemplate_change", args=[gmail.pk])
    ).content.decode()
    assert "Apply to environment…" in html and 'name="action" value="apply_to_environment"' in html
    assert 'rows="24"' in html and "template-json" in html
    form_page = admin_client.post(reverse("admin:configurations_configurationtemplate_changelist"),
                                  {"action": "apply_to_environment", "_selected_action": gmail.pk})  # fmt: skip
    assert form_page.status_code == 200 and "Before you start" in form_page.content.decode()


def test_a_history_entry_has_no_history_button_of_its_own(admin_client):
    row = services.set_value(category="smtp", key="host", environment="test", value="a.example.com")
    entry = ConfigurationHistory.objects.get(config_id=row.pk)
    html = admin_client.get(
        reverse("admin:configurations_configurationhistory_change", args=[entry.pk])
    ).content.decode()
    assert "historylink" not in html


def test_a_refused_request_is_one_log_line():
    import logging

    from django.core.exceptions import PermissionDenied

    from configurations.error_reports import RefusalsWithoutTraceback

    try:
        raise PermissionDenied("no")
    except PermissionDenied:
        import sys

        record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Forbidden", (), sys.exc_info())
    assert RefusalsWithoutTraceback().filter(record) and record.exc_info is None
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler))
    assert any(isinstance(f, RefusalsWithoutTraceback) for f in handler.filters)
    assert logging.getLogger("django").handlers == []  # no second console handler: each line once


def test_a_refusal_is_an_admin_styled_page(client):
    client.force_login(editor_of("development", username="dev-only"))
    url = edit_url("smtp", "production")
    response = client.post(url, {"reason": "x", "version": "v"})
    html = response.content.decode()
    assert response.status_code == 403
    assert "You may not edit the production environment: that needs the permission" in html and 'id="header"' in html


def test_export_with_missing_keys_is_one_clear_error(settings):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from configurations.core import crypto

    services.set_value(category="smtp", key="auth_pass", environment="test", value="secret-pass-1")
    settings.CONFIG_ENCRYPTION_KEYS = crypto.new_key_entry("other")
    with pytest.raises(CommandError, match="CONFIG_ENCRYPTION_KEYS"):
        call_command("export_configs", "--include-secrets", stdout=StringIO(), stderr=StringIO())
