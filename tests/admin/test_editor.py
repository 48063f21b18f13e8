"""The grouped category editor through Django's test client."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.urls import reverse

from configurations import services
from configurations.admin.editor import PAGE_KEYS, load_category
from configurations.core import crypto
from configurations.models import ConfigurationHistory, ConfigurationMetadata, SystemConfiguration
from tests.factories import ConfigurationFactory, MetadataFactory

pytestmark = pytest.mark.django_db

SECRET = "app-password-123"


def edit_url(category="smtp", environment="production"):
    return reverse("admin:configurations_category_edit", kwargs={"category": category, "environment": environment})


@pytest.fixture
def smtp_production(db):
    services.set_value(category="smtp", key="host", environment="production", value="smtp.gmail.com")
    services.set_value(category="smtp", key="port", environment="production", value="587")
    services.set_value(category="smtp", key="auth_pass", environment="production", value=SECRET)
    return load_category("smtp", "production")


def post_data(client, url, **values):
    """The form as the page renders it, with ``values`` (by key) changed."""
    page = client.get(url)
    form = page.context["form"]
    data = {"version": form["version"].value(), "reason": values.pop("reason", "test change")}
    if page.context["confirm_production"]:
        data["confirm_production"] = "yes"  # the box a person ticks to save production
    for name in form.fields:
        if name.startswith("value__") and not name.endswith(("__clear", "__reset")):
            initial = form[name].value()
            if isinstance(initial, bool):
                if initial:
                    data[name] = "on"
            elif initial is not None:
                data[name] = initial
    for key, value in values.items():
        data[f"value__{key}"] = value
    return data


def test_editor_is_linked_from_the_index_and_the_changelist(admin_client):
    overview = reverse("admin:configurations_category_overview")
    assert overview in admin_client.get(reverse("admin:index")).content.decode()
    assert overview in admin_client.get(reverse("admin:configurations_systemconfiguration_changelist")).content.decode()


def test_overview_lists_every_category_and_environment(admin_client, smtp_production):
    ConfigurationFactory(category="feature", config_key="beta", environment="staging")
    response = admin_client.get(reverse("admin:configurations_category_overview"))
    rows = {row["category"]: row for row in response.context["rows"]}
    assert set(rows) == {"smtp", "feature"}
    cells = {cell["environment"]: cell for cell in rows["smtp"]["cells"]}
    assert list(cells) == ["development", "staging", "production", "test"]
    assert cells["production"]["stats"]["keys"] == 3
    assert cells["production"]["stats"]["last_change"] is not None
    assert cells["staging"]["stats"] is None
    assert edit_url("feature", "staging") in response.content.decode()


def test_layout_follows_the_metadata(admin_client, smtp_production):
    response = admin_client.get(edit_url())
    groups = [(name, [f.key for f, _, _ in fields]) for name, fields in response.context["groups"]]
    assert groups == [
        ("Connection Settings", ["host", "port"]),
        ("Security Settings", ["secure"]),
        ("Authentication", ["auth_user", "auth_pass"]),
        ("Sender", ["from_email"]),
    ]
    html = response.content.decode()
    positions = [
        html.index(f"<h2>{name}</h2>") for name in ("Connection Settings", "Security Settings", "Authentication")
    ]
    assert positions == sorted(positions)
    for text in [
        "SMTP Host",
        "SMTP server hostname or IP address",
        "Common ports: 25 (plain), 587 (STARTTLS), 465 (SSL)",
    ]:
        assert text in html
    assert re.search(r'<label for="id_value__port" class="required">SMTP Port</label>', html)


def test_widgets_by_input_type(admin_client):
    for key, input_type, rules in [
        ("t", "text", None), ("n", "number", None), ("a", "textarea", None), ("s", "select", {"options": ["x", "y"]}),
        ("r", "radio", {"options": ["x", "y"]}), ("c", "checkbox", None), ("p", "password", None),
    ]:  # fmt: skip
        MetadataFactory(category="w", config_key=key, input_type=input_type, validation_rules=rules, sort_order=1)
    html = admin_client.get(edit_url("w", "test")).content.decode()
    assert re.search(r'<input type="text" name="value__t"', html)
    assert re.search(r'<input type="number" name="value__n"', html)
    assert re.search(r'<textarea name="value__a"', html)
    assert re.search(r'<select name="value__s"[^>]*>\s*<option value="" selected>---------</option>', html)
    assert re.search(r'<input type="radio" name="value__r" value="y"', html)
    assert re.search(r'<input type="checkbox" name="value__c"', html)
    assert re.search(r'<input type="password" name="value__p"', html)
    assert re.search(r'<input type="checkbox" name="value__p__clear"', html)


def test_secret_is_never_rendered(admin_client, smtp_production):
    html = admin_client.get(edit_url()).content.decode()
    assert SECRET not in html and "encrypted:" not in html
    assert 'name="value__auth_pass"' in html and "leave blank to keep the current value" in html


def test_initial_values_and_default_or_modified(admin_client):
    MetadataFactory(category="app", config_key="timeout", input_type="number", default_value="30", sort_order=1)
    MetadataFactory(category="app", config_key="retries", input_type="number", default_value="3", sort_order=2)
    services.set_value(category="app", key="retries", environment="test", value="5")
    form = admin_client.get(edit_url("app", "test")).context["form"]
    assert form["value__timeout"].value() == "30"
    assert form["value__retries"].value() == "5"
    snapshot = load_category("app", "test")
    assert (snapshot.field("timeout").state, snapshot.field("retries").state) == ("default", "modified")
    assert "value__retries__reset" in form.fields and "value__timeout__reset" not in form.fields


def test_reset_to_default(admin_client):
    MetadataFactory(category="app", config_key="retries", input_type="number", default_value="3")
    services.set_value(category="app", key="retries", environment="test", value="5")
    url = edit_url("app", "test")
    data = post_data(admin_client, url)
    data["value__retries__reset"] = "on"
    assert admin_client.post(url, data).status_code == 302
    assert services.get_value(category="app", key="retries", environment="test") == 3


def test_keys_without_metadata_still_appear(admin_client):
    ConfigurationFactory(category="smtp", config_key="x_custom_header", config_value="hello", environment="test")
    ConfigurationFactory(category="smtp", config_key="x_debug", config_value="true", value_type="boolean",
                         environment="test")  # fmt: skip
    response = admin_client.get(edit_url("smtp", "test"))
    groups = dict((name, [f.key for f, _, _ in fields]) for name, fields in response.context["groups"])
    assert groups["Other settings"] == ["x_custom_header", "x_debug"]
    html = response.content.decode()
    assert 'value="hello"' in html
    assert re.search(r'<input type="checkbox" name="value__x_debug"[^>]* checked', html)


def test_environment_switcher_and_production_warning(admin_client, smtp_production):
    html = admin_client.get(edit_url()).content.decode()
    for env in ["development", "staging", "production", "test"]:
        assert edit_url("smtp", env) in html
    assert "production-warning" in html
    assert "production-warning" not in admin_client.get(edit_url("smtp", "staging")).content.decode()


def test_save_writes_only_changed_keys_with_full_audit_context(admin_client, admin_user, smtp_production, history):
    url = edit_url()
    data = post_data(admin_client, url, port="465", reason="Use implicit TLS")
    history.mark()
    response = admin_client.post(url, data, REMOTE_ADDR="192.0.2.10", HTTP_USER_AGENT="Chromium/156")
    assert response.status_code == 302
    [entry] = history.rows()
    assert (entry.config_key, entry.old_value, entry.new_value) == ("port", "587", "465")
    assert (entry.changed_by, entry.change_reason, entry.ip_address, entry.user_agent) == (
        admin_user, "Use implicit TLS", "192.0.2.10", "Chromium/156")  # fmt: skip
    assert services.get_value(category="smtp", key="auth_pass", environment="production") == SECRET


def test_reason_is_required(admin_client, smtp_production):
    url = edit_url()
    data = post_data(admin_client, url, port="465", reason="")
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert services.get_value(category="smtp", key="port", environment="production") == 587


def test_errors_are_inline_per_field_name_the_rule_and_nothing_is_written(admin_client, smtp_production, history):
    url = edit_url()
    data = post_data(admin_client, url, host="new.example.com", port="70000", secure="maybe")
    history.mark()
    response = admin_client.post(url, data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["value__port"] == ["SMTP Port must be at most 65535"]
    assert errors["value__secure"] == ["'maybe' is not a boolean; use true or false"]
    assert "value__host" not in errors
    assert history.rows() == []
    assert services.get_value(category="smtp", key="host", environment="production") == "smtp.gmail.com"
    html = response.content.decode()
    assert "SMTP Port must be at most 65535" in html and "Nothing was saved" in html


def test_new_secret_is_encrypted_blank_keeps_and_clear_clears(admin_client, smtp_production):
    url = edit_url()
    envelope = SystemConfiguration.objects.get(config_key="auth_pass", environment="production").config_value
    assert admin_client.post(url, post_data(admin_client, url)).status_code == 302
    assert SystemConfiguration.objects.get(config_key="auth_pass", environment="production").config_value == envelope
    assert admin_client.post(url, post_data(admin_client, url, auth_pass="new-app-password")).status_code == 302
    row = SystemConfiguration.objects.get(config_key="auth_pass", environment="production")
    assert crypto.is_envelope(row.config_value) and row.config_value != envelope
    assert services.get_value(category="smtp", key="auth_pass", environment="production") == "new-app-password"
    data = post_data(admin_client, url)
    data["value__auth_pass__clear"] = "on"
    # Not required since issue 14 (a relay without AUTH): clearing empties it.
    assert admin_client.post(url, data).status_code == 302
    assert services.get_value(category="smtp", key="auth_pass", environment="production") == ""


def test_stale_save_is_refused_and_shows_current_values(admin_client, smtp_production, history):
    url = edit_url()
    data = post_data(admin_client, url, port="465", auth_pass="typed-secret-77")
    services.set_value(category="smtp", key="port", environment="production", value="2525", reason="someone else")
    history.mark()
    response = admin_client.post(url, data)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else changed smtp in production" in html
    assert response.context["form"]["value__port"].value() == "2525"
    assert "You typed: <code>465</code>" in html and "typed-secret-77" not in html  # kept, but never a secret
    assert services.get_value(category="smtp", key="port", environment="production") == 2525
    assert history.rows() == []


def _category_of(size: int, category: str) -> None:
    for i in range(size):
        MetadataFactory(category=category, config_key=f"key_{i:03d}", sort_order=i, group_name=f"Group {i % 3}")
        ConfigurationFactory(category=category, config_key=f"key_{i:03d}", environment="test", config_value=f"v{i}")


@pytest.mark.parametrize("size", [5, 200])
def test_query_count_does_not_grow_with_keys(admin_client, size, django_assert_num_queries):
    _category_of(size, "big")
    url = edit_url("big", "test")
    admin_client.get(url)  # warm the session
    # session, user, the category's size, metadata, rows, the category's version, the review policy
    with django_assert_num_queries(7):
        admin_client.get(url)
    data = post_data(admin_client, url, key_000="changed")
    # session, user, the category lock, metadata, locked rows, the version (read under the lock), savepoints, the
    # review policy (asked by the page), the audit context, the service's reads, one write. On PostgreSQL the
    # service's lock (already held), metadata and locked rows travel in one statement and the gate uses the policy
    # the lock read; SQLite asks each.
    with django_assert_num_queries(15 if connection.vendor == "postgresql" else 17):
        assert admin_client.post(url, data).status_code == 302
    assert services.get_value(category="big", key="key_000", environment="test") == "changed"


def test_staff_without_permission_can_view_but_not_edit(staff_client, smtp_production, history):
    client = staff_client()
    response = client.get(edit_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="_save"' not in html and "You may view production but not edit it" in html
    assert all(field.disabled for field in response.context["form"].fields.values())
    data = post_data(client, edit_url(), port="465")
    history.mark()
    assert client.post(edit_url(), data).status_code == 403
    assert history.rows() == []


def test_environment_permission_grants_that_environment_only(staff_client, smtp_production):
    client = staff_client("edit_staging", "change_systemconfiguration")
    staging = edit_url("smtp", "staging")
    assert client.post(staging, post_data(client, staging, port="2525")).status_code == 302
    assert services.get_value(category="smtp", key="port", environment="staging") == 2525
    # change_systemconfiguration does not grant production: it needs its own permission.
    assert client.post(edit_url(), post_data(client, edit_url(), port="2525")).status_code == 403
    assert services.get_value(category="smtp", key="port", environment="production") == 587


def test_permission_through_a_group(client, smtp_production):
    from tests.factories import UserFactory

    group = Group.objects.create(name="prod editors")
    group.permissions.add(Permission.objects.get(codename="edit_production"))
    member = UserFactory(username="member", is_staff=True)
    member.groups.add(group)
    client.force_login(member)
    assert client.post(edit_url(), post_data(client, edit_url(), port="2525")).status_code == 302


def test_plain_admin_respects_environment_permissions(staff_client, smtp_production):
    client = staff_client("edit_staging", "change_systemconfiguration", "view_systemconfiguration",
                          "delete_systemconfiguration")  # fmt: skip
    port = SystemConfiguration.objects.get(config_key="port", environment="production")
    url = reverse("admin:configurations_systemconfiguration_change", args=[port.pk])
    assert client.post(url, {"config_value": "1", "value_type": "number", "change_reason": "x"}).status_code == 403
    delete = reverse("admin:configurations_systemconfiguration_delete", args=[port.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert SystemConfiguration.objects.get(pk=port.pk).config_value == "587"


def test_unknown_environment_or_category_is_404(admin_client):
    assert admin_client.get(edit_url("smtp", "qa")).status_code == 404
    assert admin_client.get(edit_url("nothing-here", "test")).status_code == 404


def test_editor_views_hide_post_data_from_error_reports(admin_client, smtp_production):
    response = admin_client.post(edit_url(), post_data(admin_client, edit_url(), auth_pass="x"))
    assert response.wsgi_request.sensitive_post_parameters == "__ALL__"


def test_history_entry_is_complete(admin_client, smtp_production):
    admin_client.post(edit_url(), post_data(admin_client, edit_url(), port="465", reason="why not"))
    assert ConfigurationHistory.objects.filter(config_key="port", action="update", change_reason="why not").exists()


def test_a_new_key_is_stored_with_the_type_asked_and_its_metadata_when_wanted(admin_client, history):
    url = edit_url("limits", "development")
    services.set_value(category="limits", key="existing", environment="development", value="x")
    data = post_data(admin_client, url)
    data.update({"new_key": "max_items", "new_value": "25", "new_type": "number", "new_metadata": "on"})
    assert admin_client.post(url, data).status_code == 302
    assert services.get_value(category="limits", key="max_items", environment="development") == 25
    meta = ConfigurationMetadata.objects.get(category="limits", config_key="max_items")
    assert (meta.input_type, meta.value_type, meta.display_name) == ("number", "number", "Max items")
    page = admin_client.get(url)
    assert page.context["form"].fields["value__max_items"].widget.input_type == "number"
    plain = post_data(admin_client, url)
    plain.update({"new_key": "note", "new_value": "25"})  # no type asked: a string, as before
    admin_client.post(url, plain)
    assert services.get_value(category="limits", key="note", environment="development") == "25"
    assert not ConfigurationMetadata.objects.filter(config_key="note").exists()


def test_a_large_category_opens_as_an_outline_finds_a_key_and_saves_only_what_was_shown(admin_client, history):
    _category_of(3000, "huge")
    url = edit_url("huge", "test")
    outline = admin_client.get(url)
    html = outline.content.decode()
    assert len(outline.content) < 300_000 and 'name="value__' not in html
    assert [name for name, _ in outline.context["selection"].outline] == ["Group 0", "Group 1", "Group 2"]
    found = admin_client.get(url, {"q": "key_042"})
    assert found.context["selection"].keys == ["key_042"] and 'name="value__key_042"' in found.content.decode()
    group = admin_client.get(url, {"group": "Group 1"})
    assert len(group.context["selection"].keys) == 200 and group.context["selection"].pages == 5
    assert len(group.content) < 300_000
    form = group.context["form"]
    data = {"version": form["version"].value(), "reason": "one key", "keys": group.context["selection"].keys}
    data.update({name: form[name].value() for name in form.fields if name.startswith("value__")})
    first = group.context["selection"].keys[0]
    data[f"value__{first}"] = "changed"
    history.mark()
    assert admin_client.post(f"{url}?group=Group+1", data).status_code == 302
    assert [(r.config_key, r.new_value) for r in history.rows()] == [(first, "changed")]
    services.set_value(category="huge", key="key_2999", environment="test", value="meanwhile")
    assert admin_client.post(f"{url}?group=Group+1", data).status_code == 409  # stale: the category moved


def test_a_1500_key_category_saves_from_its_pages_without_the_field_limit(admin_client, history):
    _category_of(1500, "wide")
    url = edit_url("wide", "test")
    page = admin_client.get(url, {"group": "Group 2"})
    form, shown = page.context["form"], page.context["selection"].keys
    data = {"version": form["version"].value(), "reason": "many keys", "keys": shown}
    data.update({name: form[name].value() for name in form.fields if name.startswith("value__")})
    for key in shown[:150]:
        data[f"value__{key}"] = f"changed {key}"
    assert len(data) + len(shown) < 1000  # what a page posts stays under Django's field limit
    history.mark()
    assert admin_client.post(f"{url}?group=Group+2", data).status_code == 302
    assert sorted(r.config_key for r in history.rows()) == sorted(shown[:150])


@pytest.mark.parametrize("size", [400, 800])
def test_a_large_categorys_page_costs_what_it_shows(admin_client, size, django_assert_num_queries):
    """Opening a group and saving from it load the shown keys only (the others only as names): the same queries at 400
    and at 800 keys, and the form holds the page's keys alone."""
    _category_of(size, "paged")
    url = edit_url("paged", "test")
    admin_client.get(url)  # warm the session
    # session, user, the size, the keys' names and groups (metadata, rows), the shown metadata and rows, the version,
    # the review policy
    with django_assert_num_queries(9):
        page = admin_client.get(url, {"group": "Group 1"})
    shown = page.context["selection"].keys
    assert 0 < len(shown) <= PAGE_KEYS and page.context["selection"].matching == len(range(1, size, 3))
    assert {n.removeprefix("value__") for n in page.context["form"].fields if n.startswith("value__")} == set(shown)
    form = page.context["form"]
    data = {"version": form["version"].value(), "reason": "r", "keys": shown}
    data.update({name: form[name].value() for name in form.fields if name.startswith("value__")})
    data[f"value__{shown[0]}"] = "changed"
    with django_assert_num_queries(15 if connection.vendor == "postgresql" else 17):  # the small category's save
        assert admin_client.post(f"{url}?group=Group+1", data).status_code == 302
    assert services.get_value(category="paged", key=shown[0], environment="test") == "changed"
