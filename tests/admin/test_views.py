"""History in the admin: per configuration and per category, filters, readable values, keyset pages."""

from __future__ import annotations

import datetime
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from configurations import services
from configurations.audit import audit_context
from configurations.models import ConfigurationHistory
from configurations.services import history
from tests.factories import editor_of

pytestmark = pytest.mark.django_db
URL = "/admin/configurations/history/"


def test_url_name():
    assert reverse("admin:configurations_history") == URL


def test_per_configuration_newest_first_with_old_and_new(admin_client):
    row = services.set_value(category="smtp", key="port", environment="staging", value="25")
    services.set_value(category="smtp", key="port", environment="staging", value="587", reason="STARTTLS")
    services.set_value(category="smtp", key="host", environment="staging", value="a.example.com")
    response = admin_client.get(f"{URL}?config={row.pk}")
    entries = response.context["entries"]
    assert [(e.row.action, e.old, e.new) for e in entries] == [("update", "25", "587"), ("create", None, "25")]
    html = response.content.decode()
    assert "STARTTLS" in html and "a.example.com" not in html


def test_per_category_and_environment(admin_client):
    services.set_value(category="smtp", key="port", environment="staging", value="25")
    services.set_value(category="smtp", key="port", environment="production", value="587")
    response = admin_client.get(f"{URL}?category=smtp&environment=production")
    assert [(e.row.config_key, e.row.environment) for e in response.context["entries"]] == [("port", "production")]


def test_filters_by_user_and_date(admin_client):
    alice, bob = editor_of(username="alice"), editor_of(username="bob")
    with audit_context(actor=alice):
        services.set_value(category="app", key="a", environment="test", value="1")
    with audit_context(actor=bob):
        services.set_value(category="app", key="b", environment="test", value="2")
    ConfigurationHistory.objects.filter(config_key="b").update(
        created_at=datetime.datetime(2020, 5, 1, tzinfo=datetime.UTC)
    )
    by_user = admin_client.get(f"{URL}?user=alice").context["entries"]
    assert [e.row.config_key for e in by_user] == ["a"]
    old = admin_client.get(f"{URL}?since=2020-05-01&until=2020-05-01").context["entries"]
    assert [e.row.config_key for e in old] == ["b"]
    assert admin_client.get(f"{URL}?until=2020-04-30").context["entries"] == []


def test_json_is_pretty_printed_with_a_line_diff(admin_client):
    services.set_value(category="app", key="cfg", environment="test", value={"a": 1, "b": [1, 2]}, value_type="json")
    services.set_value(category="app", key="cfg", environment="test", value={"a": 2, "b": [1, 2]})
    [entry, _] = admin_client.get(f"{URL}?category=app").context["entries"]
    assert entry.new == '{\n  "a": 2,\n  "b": [\n    1,\n    2\n  ]\n}'
    assert ("-", '  "a": 1,') in entry.diff and ("+", '  "a": 2,') in entry.diff
    html = admin_client.get(f"{URL}?category=app").content.decode()
    assert 'class="diff-add">+   &quot;a&quot;: 2,' in html


def test_secrets_are_shown_as_changed_only(admin_client):
    services.set_value(category="smtp", key="auth_pass", environment="test", value="first-password-1")
    services.set_value(category="smtp", key="auth_pass", environment="test", value="second-password-2")
    response = admin_client.get(f"{URL}?category=smtp")
    assert [e.change for e in response.context["entries"]] == ["changed", "created"]
    html = response.content.decode()
    assert "secret changed" in html
    for leak in ["first-password-1", "second-password-2", "encrypted:", "sha256="]:
        assert leak not in html
    entry = ConfigurationHistory.objects.filter(config_key="auth_pass").first()
    detail = admin_client.get(reverse("admin:configurations_configurationhistory_change", args=[entry.pk]))
    assert "sha256=" not in detail.content.decode() and "secret changed" in detail.content.decode()


def test_keyset_pages_without_count(admin_client):
    services.apply_changes([services.Change("bulk", f"k{i:03d}", "test", str(i)) for i in range(120)])
    seen = []
    url = f"{URL}?category=bulk"
    with CaptureQueriesContext(connection) as queries:
        for _ in range(10):  # bounded: 3 pages are expected
            if not url:
                break
            response = admin_client.get(url)
            seen += [e.row.config_key for e in response.context["entries"]]
            url = response.context["next_url"] and URL + response.context["next_url"]
    assert len(seen) == 120 and len(set(seen)) == 120
    # No COUNT of the rows a page walks; the first page's timeline groups the last 90 days (a bounded range).
    counts = [q["sql"].upper() for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 2 and all("GROUP BY" in sql and "CREATED_AT" in sql for sql in counts)


def test_page_function_orders_by_time_then_id():
    services.apply_changes([services.Change("same", f"k{i}", "test", "v") for i in range(5)])
    entries, cursor = history.page(history.HistoryFilters(category="same"), size=2)
    more, _ = history.page(history.HistoryFilters(category="same"), before=cursor, size=10)
    ids = [e.row.id for e in entries + more]
    assert ids == sorted(ids, reverse=True) and len(ids) == 5


def test_large_and_very_different_values_keep_the_history_page_bounded(admin_client):
    """600-item JSON lists once made the page answer 500 (RecursionError in difflib.ndiff) after 108 s."""
    first = [f"a-{n:05d}" for n in range(600)]
    second = [f"b-{n:05d}" for n in range(600)]
    services.set_value(category="big", key="doc", environment="test", value=first, value_type="json")
    row = services.set_value(category="big", key="doc", environment="test", value=second, value_type="json")
    started = time.perf_counter()
    response = admin_client.get(reverse("admin:configurations_history") + f"?config={row.pk}")
    assert response.status_code == 200 and time.perf_counter() - started < 1.0
    update = next(e for e in response.context["entries"] if e.row.action == "update")
    assert update.truncated and update.diff == [] and len(update.new) <= history.PREVIEW_CHARS + 1
    assert "full values on the entry's page" in response.content.decode()
    full = admin_client.get(reverse("admin:configurations_configurationhistory_change", args=[update.row.pk]))
    assert "b-00599" in full.content.decode()  # the entry's own page shows the whole value


def test_small_multi_line_values_still_get_a_line_diff(admin_client):
    services.set_value(category="doc", key="list", environment="test", value=["a", "b", "c"], value_type="json")
    row = services.set_value(category="doc", key="list", environment="test", value=["a", "x", "c"], value_type="json")
    entries, _ = history.page(history.HistoryFilters(config_id=row.pk))
    update = next(e for e in entries if e.row.action == "update")
    assert ("-", '  "b",') in update.diff and ("+", '  "x",') in update.diff and (" ", '  "a",') in update.diff


def test_a_malformed_cursor_on_the_history_page_is_a_400(admin_client):
    answer = admin_client.get(reverse("admin:configurations_history") + "?before=abc")
    assert answer.status_code == 400


def test_a_refusal_names_what_and_which_permission_in_the_products_page_with_a_way_back(client):
    services.set_value(category="smtp", key="host", environment="production", value="a.example.com")
    client.force_login(editor_of("development", username="dev-only"))
    edit = reverse("admin:configurations_category_edit", args=["smtp", "production"])
    refused = client.post(edit, {"reason": "x"}, HTTP_REFERER=f"http://testserver{edit}")
    html = refused.content.decode()
    assert refused.status_code == 403
    assert "production environment: that needs the permission configurations.edit_production" in html
    assert "Configuration management" in html and "Django administration" not in html
    assert f'href="http://testserver{edit}">Back to the previous page' in html and "javascript:" not in html
    foreign = client.post(edit, {"reason": "x"}, HTTP_REFERER="https://evil.example/")
    assert "evil.example" not in foreign.content.decode()  # no way "back" to another site
    model_page = client.get(reverse("admin:configurations_configurationhistory_changelist"))
    assert model_page.status_code in (302, 403)


def test_history_times_link_to_the_entry_page_only_for_who_may_open_it(client, admin_client):
    services.set_value(category="smtp", key="host", environment="development", value="a.example.com")
    entry = ConfigurationHistory.objects.get(config_key="host")
    entry_url = reverse("admin:configurations_configurationhistory_change", args=[entry.pk])
    assert entry_url in admin_client.get(reverse("admin:configurations_history")).content.decode()
    client.force_login(editor_of("development", username="dev-viewer"))
    assert entry_url not in client.get(reverse("admin:configurations_history")).content.decode()


def test_the_history_of_a_key_and_a_category_shows_a_timeline_of_changes_per_day_and_who(admin_client, admin_user):
    for port in ("25", "587", "2525"):
        services.set_value(category="smtp", key="port", environment="test", value=port, actor=admin_user)
    services.set_value(category="smtp", key="host", environment="test", value="h.example.com")
    row = services.set_value(category="smtp", key="port", environment="test", value="465", actor=admin_user)
    one_key = admin_client.get(reverse("admin:configurations_history") + f"?config={row.pk}")
    chart = one_key.context["chart"]
    assert chart["timeline"].total == 4 and chart["timeline"].days[-1][1] == 4
    assert chart["timeline"].people == [(admin_user.username, 4)]
    html = one_key.content.decode()
    assert "<svg" in html and "4 changes in the last 90 days" in html and ": 4 changes</title>" in html
    category = admin_client.get(reverse("admin:configurations_history") + "?category=smtp&environment=test")
    assert category.context["chart"]["timeline"].people == [(admin_user.username, 4), (None, 1)]
    assert admin_client.get(reverse("admin:configurations_history")).context["chart"] is None  # everything: none


def test_a_timeline_costs_two_queries_whatever_the_history(admin_user, django_assert_num_queries):
    for i in range(30):
        services.set_value(category="smtp", key="port", environment="test", value=str(1000 + i))
    with django_assert_num_queries(2):
        line = history.timeline(history.HistoryFilters(category="smtp", environment="test"))
    assert line.total == 30 and len(line.days) == 90
