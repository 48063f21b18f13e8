"""The plain admin: every model reachable, history read-only, audit context recorded, no secret shown."""

from __future__ import annotations

import pytest
from django.urls import reverse

from configurations import services
from configurations.models import ConfigurationHistory, ConfigurationMetadata, SystemConfiguration
from tests.factories import ConfigurationFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cret-Password!"


@pytest.fixture
def secret_config(db):
    # smtp/auth_pass has password metadata (shipped data): stored encrypted.
    return services.set_value(category="smtp", key="auth_pass", environment="production", value=SECRET)


MODELS = [
    "systemconfiguration",
    "configurationmetadata",
    "configurationtemplate",
    "configurationhistory",
    "configurationhistoryarchive",
    "user",
]


@pytest.mark.parametrize("model", MODELS)
def test_every_changelist_loads(admin_client, secret_config, model):
    response = admin_client.get(reverse(f"admin:configurations_{model}_changelist"), follow=True)
    assert response.status_code == 200
    assert SECRET not in response.content.decode()


@pytest.mark.parametrize(
    "query", ["category__exact=smtp", "environment__exact=production", "is_active__exact=1", "value_type__exact=string"]
)
def test_configuration_filters(admin_client, secret_config, query):
    ConfigurationFactory(category="other", environment="test", value_type="number", config_value="5", is_active=False)
    response = admin_client.get(reverse("admin:configurations_systemconfiguration_changelist") + "?" + query)
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [secret_config]


def test_search_finds_by_key(admin_client):
    ConfigurationFactory(category="smtp", config_key="host", config_value="smtp.example.com")
    ConfigurationFactory(category="smtp", config_key="port", config_value="25")
    response = admin_client.get(reverse("admin:configurations_systemconfiguration_changelist") + "?q=host")
    assert [c.config_key for c in response.context["cl"].result_list] == ["host"]


def test_changelist_masks_secrets_in_constant_queries(admin_client, secret_config, django_assert_max_num_queries):
    for i in range(20):
        ConfigurationFactory(category="smtp", config_key=f"k{i}", environment="production")
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("admin:configurations_systemconfiguration_changelist"))
    assert "••••••••" in response.content.decode()


def test_change_form_never_renders_a_secret(admin_client, secret_config):
    url = reverse("admin:configurations_systemconfiguration_change", args=[secret_config.pk])
    html = admin_client.get(url).content.decode()
    assert SECRET not in html
    assert "leave blank to keep the current value" in html


def test_saving_a_secret_with_blank_value_keeps_it(admin_client, secret_config):
    url = reverse("admin:configurations_systemconfiguration_change", args=[secret_config.pk])
    envelope = secret_config.config_value
    data = {
        "config_value": "",
        "value_type": "string",
        "is_active": "on",
        "change_reason": "touch nothing",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302
    secret_config.refresh_from_db()
    assert secret_config.config_value == envelope  # not re-encrypted
    assert services.get_value(category="smtp", key="auth_pass", environment="production") == SECRET
    assert not ConfigurationHistory.objects.filter(config_id=secret_config.pk, action="update").exists()


def _edit_port(client, config, **extra):
    url = reverse("admin:configurations_systemconfiguration_change", args=[config.pk])
    data = {
        "config_value": "587",
        "value_type": "number",
        "is_active": "on",
        "change_reason": "Use STARTTLS",
    }
    return client.post(url, data, **extra)


def test_admin_edit_records_user_ip_user_agent_and_reason(admin_client, admin_user):
    config = ConfigurationFactory(category="smtp", config_key="port", config_value="25", value_type="number")
    response = _edit_port(admin_client, config, REMOTE_ADDR="192.0.2.44", HTTP_USER_AGENT="Firefox/140")
    assert response.status_code == 302
    [row] = ConfigurationHistory.objects.filter(config_id=config.pk, action="update")
    assert (row.old_value, row.new_value) == ("25", "587")
    assert (row.changed_by, row.ip_address, row.user_agent, row.change_reason) == (
        admin_user,
        "192.0.2.44",
        "Firefox/140",
        "Use STARTTLS",
    )


def test_reason_is_required(admin_client):
    config = ConfigurationFactory(config_value="25")
    url = reverse("admin:configurations_systemconfiguration_change", args=[config.pk])
    response = admin_client.post(url, {"config_value": "1", "value_type": "string"})
    assert response.status_code == 200
    assert "change_reason" in response.context["adminform"].form.errors
    config.refresh_from_db()
    assert config.config_value == "25"


def test_forwarded_for_is_ignored_from_untrusted_clients(admin_client):
    config = ConfigurationFactory(config_value="25")
    _edit_port(admin_client, config, REMOTE_ADDR="192.0.2.44", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert ConfigurationHistory.objects.get(config_id=config.pk, action="update").ip_address == "192.0.2.44"


def test_forwarded_for_is_honoured_from_a_trusted_proxy(admin_client):
    config = ConfigurationFactory(config_value="25")
    # tests/settings.py trusts 10.0.0.1.
    _edit_port(admin_client, config, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.1")
    assert ConfigurationHistory.objects.get(config_id=config.pk, action="update").ip_address == "203.0.113.9"


def test_admin_delete_is_recorded_with_the_user(admin_client, admin_user):
    config = ConfigurationFactory(config_value="bye")
    url = reverse("admin:configurations_systemconfiguration_delete", args=[config.pk])
    response = admin_client.post(url, {"post": "yes", "reason": "retired"}, REMOTE_ADDR="192.0.2.50")
    assert response.status_code == 302
    assert not SystemConfiguration.objects.filter(pk=config.pk).exists()
    row = ConfigurationHistory.objects.get(config_id=config.pk, action="delete")
    assert (row.changed_by, row.ip_address, row.old_value) == (admin_user, "192.0.2.50", "bye")
    assert row.change_reason == "retired"


def test_history_is_read_only(admin_client):
    config = ConfigurationFactory(config_value="1")
    entry = ConfigurationHistory.objects.get(config_id=config.pk)
    assert admin_client.get(reverse("admin:configurations_configurationhistory_add")).status_code == 403
    change = admin_client.get(reverse("admin:configurations_configurationhistory_change", args=[entry.pk]))
    assert change.status_code == 200
    assert b'name="_save"' not in change.content
    post = admin_client.post(
        reverse("admin:configurations_configurationhistory_change", args=[entry.pk]), {"old_value": "forged"}
    )
    assert post.status_code == 403
    delete_url = reverse("admin:configurations_configurationhistory_delete", args=[entry.pk])
    delete = admin_client.post(delete_url, {"post": "yes"})
    assert delete.status_code == 403
    entry.refresh_from_db()
    assert entry.old_value is None


def test_history_changelist_is_the_keyset_history_view(admin_client):
    ConfigurationFactory(category="smtp", environment="staging", config_value="a")
    ConfigurationFactory(category="other", environment="test", config_value="b")
    url = reverse("admin:configurations_configurationhistory_changelist")
    response = admin_client.get(url + "?environment=staging&category=smtp", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("admin:configurations_history"))
    assert [(e.row.category, e.row.environment) for e in response.context["entries"]] == [("smtp", "staging")]


def test_metadata_history_view_works(admin_client):
    meta = ConfigurationMetadata.objects.get(category="smtp", config_key="port")
    meta.help_text = "Use 587"
    meta.save()
    url = reverse("admin:configurations_configurationmetadata_history", args=[meta.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert meta.history.count() == 1


def test_the_metadata_form_shows_the_rules_shape_and_no_null(admin_client):
    html = admin_client.get(reverse("admin:configurations_configurationmetadata_add")).content.decode()
    rules = html.split('name="validation_rules"', 1)[1].split("</textarea>", 1)[0]
    assert "null" not in rules.split(">", 1)[1]  # an empty box, not the word null
    assert "{&quot;required&quot;: true, &quot;min&quot;: 1" in html  # the JSON shape, in the help text
