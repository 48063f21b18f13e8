"""The transactional outbox: the database writes one event per change, on every path, and none for a rollback."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from configurations import services
from configurations.models import (
    ConfigurationEvent,
    ConfigurationHistory,
    ConfigurationMetadata,
    ConfigurationTemplate,
    SystemConfiguration,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("subscribed")]


def _events(**filters) -> list[tuple]:
    fields = ("event_type", "category", "config_key", "environment", "history_id")
    return list(ConfigurationEvent.objects.filter(**filters).order_by("id").values_list(*fields))


def test_each_write_of_a_value_emits_one_event_pointing_at_its_history_row():
    services.set_value(category="smtp", key="host", environment="development", value="a.example", reason="t")
    services.set_value(category="smtp", key="host", environment="development", value="b.example", reason="t")
    services.deactivate(category="smtp", key="host", environment="development", reason="off")
    services.delete_configurations(SystemConfiguration.objects.filter(category="smtp").values_list("id", flat=True),
                                   reason="gone")  # fmt: skip
    history = list(ConfigurationHistory.objects.filter(category="smtp").order_by("id").values_list("id", flat=True))
    assert _events(category="smtp") == [
        ("configuration.created", "smtp", "host", "development", history[0]),
        ("configuration.updated", "smtp", "host", "development", history[1]),
        ("configuration.deactivated", "smtp", "host", "development", history[2]),
        ("configuration.deleted", "smtp", "host", "development", history[3]),
    ]


def test_a_value_written_again_unchanged_emits_nothing():
    services.set_value(category="smtp", key="host", environment="development", value="a.example", reason="t")
    before = ConfigurationEvent.objects.count()
    services.set_value(category="smtp", key="host", environment="development", value="a.example", reason="t")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE system_configurations SET config_value = config_value")
    assert ConfigurationEvent.objects.count() == before


def test_raw_sql_emits_one_event_per_row_changed():
    for key in ("a", "b", "c"):
        services.set_value(category="feature", key=key, environment="staging", value="x", reason="t")
    before = ConfigurationEvent.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE system_configurations SET config_value = 'y' WHERE category = 'feature'")
    assert [e[0] for e in _events(category="feature")[3:]] == ["configuration.updated"] * 3
    assert ConfigurationEvent.objects.count() == before + 3


def test_a_rolled_back_transaction_emits_nothing():
    before = ConfigurationEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.set_value(category="smtp", key="host", environment="staging", value="x.example", reason="t")
        ConfigurationMetadata.objects.filter(category="smtp", config_key="port").update(help_text="changed")
        assert ConfigurationEvent.objects.count() == before + 2  # written with the change...
        raise RuntimeError
    assert ConfigurationEvent.objects.count() == before  # ...and gone with it


def test_metadata_and_template_changes_emit_events_but_an_unchanged_save_does_not():
    metadata = ConfigurationMetadata.objects.get(category="smtp", config_key="port")
    template = ConfigurationTemplate.objects.get(provider_name="gmail")
    before = ConfigurationEvent.objects.count()
    metadata.save()
    template.save(update_fields=["description"])
    assert ConfigurationEvent.objects.count() == before
    metadata.help_text += " (changed)"
    metadata.save()
    template.description += " (changed)"
    template.save()
    assert _events(id__gt=0)[-2:] == [
        ("metadata.changed", "smtp", "port", None, None),
        ("template.changed", "smtp", None, None, None),
    ]
    assert ConfigurationEvent.objects.order_by("-id").first().subject == "gmail"


def test_an_applied_change_request_emits_its_own_event(admin_user):
    services.set_policy("production", approvals=1, self_approval=True, actor=admin_user)
    change = services.Change("smtp", "host", "production", "new.example")
    opened = services.open_request("production", [change], title="relay", actor=admin_user)
    services.approve(opened.request, actor=admin_user)
    services.apply_request(opened.request, actor=admin_user)
    applied = ConfigurationEvent.objects.filter(event_type="change_request.applied").get()
    assert (applied.environment, applied.subject) == ("production", str(opened.request.pk))
    assert _events(category="smtp", environment="production")[-1][:3] == ("configuration.created", "smtp", "host")


@pytest.mark.usefixtures("local_hooks")
def test_without_any_endpoint_no_trigger_writes_an_event_and_an_endpoint_paused_or_not_restores_them(admin_user):
    from configurations.services import webhooks

    webhooks.remove_endpoint("paused", actor=admin_user)

    def change_everything(value: str) -> int:
        before = ConfigurationEvent.objects.count()
        services.set_value(category="smtp", key="host", environment="staging", value=value, reason="t")
        with connection.cursor() as cursor:
            cursor.execute("UPDATE system_configurations SET config_value = %s WHERE category = 'smtp'", [value + "!"])
        ConfigurationMetadata.objects.filter(category="smtp", config_key="port").update(help_text=value)
        ConfigurationTemplate.objects.filter(provider_name="gmail").update(description=value)
        return ConfigurationEvent.objects.count() - before

    assert change_everything("a.example") == 0
    assert ConfigurationHistory.objects.filter(category="smtp", new_value="a.example").exists()  # history unchanged
    webhooks.add_endpoint("later", "http://127.0.0.1:9/in", is_active=False)
    rows = SystemConfiguration.objects.filter(category="smtp").count()
    assert change_everything("b.example") == 1 + rows + 2
