"""Metadata and template history: one record per change on every path, with who and why, in a hash chain."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from configurations import services
from configurations.data.audit import audit_context
from configurations.models import AuditChainHead, ConfigurationMetadata, ConfigurationTemplate

pytestmark = pytest.mark.django_db
Record = ConfigurationMetadata.history.model
TemplateRecord = ConfigurationTemplate.history.model


@pytest.fixture
def meta(db):
    with audit_context(reason="seed"):
        return ConfigurationMetadata.objects.create(category="rec", config_key="k", display_name="K", sort_order=1)


def records_of(obj, model=Record):
    return list(model.objects.filter(id=obj.pk).order_by("history_id"))


def execute(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_every_path_leaves_exactly_one_record_with_old_and_new_state(meta, user):
    with audit_context(actor=user, reason="orm save"):
        meta.display_name = "K2"
        meta.save()
    with audit_context(actor=user, reason="queryset update"):
        ConfigurationMetadata.objects.filter(pk=meta.pk).update(sort_order=2)
    with audit_context(actor=user, reason="bulk update"):
        meta.sort_order = 3
        ConfigurationMetadata.objects.bulk_update([meta], ["sort_order"])
    with audit_context(actor=user, reason="raw sql"):
        execute("UPDATE configuration_metadata SET help_text = 'by hand' WHERE id = %s", [meta.pk])
    with audit_context(actor=user, reason="gone"):
        ConfigurationMetadata.objects.filter(pk=meta.pk).delete()
    records = records_of(meta)
    assert [(r.history_type, r.history_change_reason) for r in records] == [
        ("+", "seed"), ("~", "orm save"), ("~", "queryset update"), ("~", "bulk update"), ("~", "raw sql"),
        ("-", "gone"),
    ]  # fmt: skip
    assert [r.history_user_id for r in records[1:]] == [user.pk] * 5
    assert (records[1].history_old_state["display_name"], records[1].display_name) == ("K", "K2")
    assert (records[2].history_old_state["sort_order"], records[2].sort_order) == (1, 2)
    assert (records[4].history_old_state["help_text"], records[4].help_text) == (None, "by hand")
    assert records[5].help_text == "by hand" and records[5].history_old_state is None


def test_a_save_that_changes_nothing_leaves_no_record(meta):
    meta.save()
    ConfigurationMetadata.objects.filter(pk=meta.pk).update(sort_order=1)
    assert len(records_of(meta)) == 1


def test_a_rolled_back_change_leaves_no_record(meta):
    with pytest.raises(RuntimeError), audit_context(reason="undone"):
        ConfigurationMetadata.objects.filter(pk=meta.pk).update(sort_order=9)
        raise RuntimeError
    assert len(records_of(meta)) == 1


def test_templates_are_recorded_too():
    with audit_context(reason="new provider"):
        template = ConfigurationTemplate.objects.create(
            provider_name="rec", category="smtp", template_data={"configs": {"host": "x"}}
        )
    with audit_context(reason="raw"):
        execute("UPDATE configuration_templates SET is_active = false WHERE id = %s", [template.pk])
    records = records_of(template, TemplateRecord)
    assert [(r.history_type, r.history_change_reason, r.is_active) for r in records] == [
        ("+", "new provider", True), ("~", "raw", False),
    ]  # fmt: skip
    assert records[1].history_old_state["is_active"] is True
    assert records[1].history_old_state["template_data"] == {"configs": {"host": "x"}}


def test_records_are_chained_and_the_head_follows(meta):
    ConfigurationMetadata.objects.filter(pk=meta.pk).update(sort_order=5)
    first, second = records_of(meta)
    assert second.history_prev_hash == first.history_row_hash and len(second.history_row_hash) == 64
    head = AuditChainHead.objects.get(table_name="configuration_metadata_changes")
    assert (head.last_id, head.last_hash) == (second.history_id, second.history_row_hash)


def verify() -> tuple[str, str | None]:
    out = StringIO()
    try:
        call_command("verify_history", stdout=out, stderr=StringIO())
    except CommandError as error:
        return out.getvalue(), str(error)
    return out.getvalue(), None


def _three_records(meta) -> list:
    for order in (5, 6):
        ConfigurationMetadata.objects.filter(pk=meta.pk).update(sort_order=order)
    return records_of(meta)


def test_verify_history_reports_per_table_and_passes_an_untouched_chain(meta):
    _three_records(meta)
    out, error = verify()
    assert error is None
    last = records_of(meta)[-1]
    assert f"configuration_metadata_changes: 3 rows, ok, head {last.history_id}:{last.history_row_hash}" in out
    assert "configuration_templates_changes:" in out


def test_an_edited_record_is_found_by_id(meta):
    records = _three_records(meta)
    execute("UPDATE configuration_metadata_changes SET display_name = 'forged' WHERE history_id = %s",
            [records[1].history_id])  # fmt: skip
    out, error = verify()
    assert error and f"configuration_metadata_changes: #{records[1].history_id} was edited" in out


def test_a_deleted_record_is_found(meta):
    records = _three_records(meta)
    execute("DELETE FROM configuration_metadata_changes WHERE history_id = %s", [records[1].history_id])
    out, error = verify()
    gap = f"rows between #{records[0].history_id} and #{records[2].history_id} were deleted"
    assert error and f"configuration_metadata_changes: {gap}" in out


def test_a_deleted_last_record_is_found(meta):
    records = _three_records(meta)
    execute("DELETE FROM configuration_metadata_changes WHERE history_id = %s", [records[2].history_id])
    out, error = verify()
    assert error and f"the chain's head is #{records[2].history_id}" in out


def test_a_forged_record_is_found_by_id(meta):
    _three_records(meta)
    columns = "id, category, config_key, display_name, input_type, is_required, sort_order, created_at"
    execute(
        f"INSERT INTO configuration_metadata_changes ({columns}, history_date, history_type) "
        f"SELECT {columns}, created_at, '~' FROM configuration_metadata WHERE id = %s",
        [meta.pk],
    )
    forged = Record.objects.order_by("-history_id").first()
    out, error = verify()
    assert error and f"#{forged.history_id} has no chain link" in out


def test_the_admin_records_who_and_why_and_shows_them(admin_client, admin_user, meta):
    url = reverse("admin:configurations_configurationmetadata_change", args=[meta.pk])
    form = {
        "category": "rec", "config_key": "k", "display_name": "Shown", "input_type": "text", "sort_order": "4",
        "change_reason": "ticket 42",
    }  # fmt: skip
    response = admin_client.post(url, form, REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="pytest-admin")
    assert response.status_code == 302, response.content[:2000]
    record = records_of(meta)[-1]
    assert (record.history_user_id, record.history_change_reason) == (admin_user.pk, "ticket 42")
    assert (record.history_ip_address, record.history_user_agent) == ("10.1.2.3", "pytest-admin")
    page = admin_client.get(reverse("admin:configurations_configurationmetadata_history", args=[meta.pk]))
    html = page.content.decode()
    assert "ticket 42" in html and admin_user.username in html and "10.1.2.3" in html and "pytest-admin" in html
    changes = re.sub(r"\s+", " ", html[html.index("change-history") :])
    assert "<strong>Display name:</strong> K &nbsp;&rarr;&nbsp;&nbsp;Shown" in changes  # old -> new
    assert "<strong>Sort order:</strong> 1 &nbsp;&rarr;&nbsp;&nbsp;4" in changes


def test_services_leave_records_with_their_actor(user):
    services.set_value(category="smtp", key="host", environment="test", value="x.example.com", actor=user)
    template = ConfigurationTemplate.objects.filter(category="smtp").first()
    with audit_context(actor=user, reason="retire"):
        ConfigurationTemplate.objects.filter(pk=template.pk).update(is_active=False)
    assert records_of(template, TemplateRecord)[-1].history_user_id == user.pk


@pytest.mark.postgres
def test_the_application_role_may_read_records_but_never_rewrite_them(roles, meta):
    from tests.services.test_database_roles import connect, refused

    with connect(roles["app"]) as app:
        for table in ("configuration_metadata_changes", "configuration_templates_changes"):
            assert refused(app, f"UPDATE {table} SET history_change_reason = 'tampered'")
            assert refused(app, f"DELETE FROM {table}")
            assert refused(app, f"TRUNCATE {table}")
        assert refused(app, "UPDATE audit_chain_heads SET last_hash = 'x'")
        with app.transaction():  # its own writes to metadata are still recorded, by the owner's trigger
            app.execute("UPDATE configuration_metadata SET sort_order = 8 WHERE id = %s", [meta.pk])
        count = "SELECT count(*) FROM configuration_metadata_changes WHERE id = %s"
        assert app.execute(count, [meta.pk]).fetchone()[0] == 2
    assert records_of(meta)[-1].sort_order == 8
