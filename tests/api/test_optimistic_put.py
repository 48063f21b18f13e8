"""The API's PUT as a transaction of its own (PostgreSQL, outside any test transaction): the token's owner with their
permissions, then two round trips (the read; the write with the new version), and the same answers as the locked path
for If-Match, secrets and writers that come between the read and the write (data/optimistic.py; issue 24)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from configurations import services
from configurations.data import write_memory
from configurations.data.models import ConfigurationHistory
from configurations.services import writes
from tests.api.test_views import assert_problem, call, make_token, put
from tests.factories import editor_of
from tests.services.test_writes import _in_another_thread

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
API = "/api/v1/environments"


@pytest.fixture
def owner():
    return editor_of("development", username="svc-owner")


@pytest.fixture
def data(settings):
    settings.CONFIG_ENVIRONMENT = "development"
    for key, value in (("host", "development.example.com"), ("port", "587"), ("auth_pass", "api-secret-1")):
        services.set_value(category="smtp", key=key, environment="development", value=value)


def _port() -> str:
    return str(services.get_value(category="smtp", key="port", environment="development"))


def _writing(captured) -> list[str]:
    sql = [q["sql"] for q in captured.captured_queries]
    assert not [q for q in sql if q.split()[0] in ("BEGIN", "COMMIT", "SAVEPOINT")]
    return [q for q in sql if "config_read_for_write" in q or "config_write_or_read" in q]


def test_a_put_writes_in_two_round_trips_then_one_and_answers_the_new_version(client, owner, data):
    token = make_token(owner, "development", write=True)
    write_memory.forget()
    with CaptureQueriesContext(connection) as captured:
        assert put(client, token, "port", 2500).status_code == 200
    # The read, then the write, which answers the new version itself (a statement alone): no BEGIN, no COMMIT.
    writing = _writing(captured)
    assert len(writing) == 2 and writing[1].startswith("EXECUTE config_write_or_read(") and ";" not in writing[1]
    assert '"answer": {"environment": "development", "category": "smtp"}' in writing[1], writing
    with CaptureQueriesContext(connection) as captured:
        answer = put(client, token, "port", 2501)
    assert answer.status_code == 200, answer.content
    # The connection remembers the key as it wrote it: the write alone.
    writing = _writing(captured)
    assert len(writing) == 1 and writing[0].startswith("EXECUTE config_write_or_read(") and ";" not in writing[0]
    entry = ConfigurationHistory.objects.filter(config_key="port", environment="development").order_by("-id")[0]
    assert (entry.old_value, entry.new_value, entry.changed_by_id) == ("2500", "2501", owner.pk)
    assert entry.change_reason.startswith("from the API test (API token ")
    assert answer.json()["version"] == entry.id and answer["ETag"] == f'"c{entry.id}.m"'


def test_the_version_answered_is_the_categorys_whatever_the_chain_head_holds(client, owner, data):
    """After the write, the new version is the chain's head, which the write's own transaction holds; when nothing was
    written (the same value again), the head is another category's row and the version is read from the history."""
    from configurations.services.versions import category_version

    token = make_token(owner, "development", write=True)
    for value in (2600, 2601):  # the first reads and writes, the second writes alone: both answer the head
        answer = put(client, token, "port", value)
        assert answer.status_code == 200, answer.content
        assert answer.json()["version"] == category_version("development", "smtp")
    services.set_value(category="imap", key="host", environment="development", value="imap.example.com")
    newest = ConfigurationHistory.objects.order_by("-id")[0]
    assert newest.category == "imap"  # the head is another category's row now
    unchanged = put(client, token, "port", 2601)
    assert unchanged.status_code == 200, unchanged.content
    assert unchanged.json()["version"] == category_version("development", "smtp") < newest.id
    for other in (2602, 2603):  # after another category's write, the head is again this write's own row
        answer = put(client, token, "port", other)
        assert answer.json()["version"] == category_version("development", "smtp") > newest.id


def test_if_match_holds_on_the_two_round_trips(client, owner, data):
    token = make_token(owner, "development", write=True)
    etag = call(client, "get", f"{API}/development/categories/smtp/", token)["ETag"]
    assert put(client, token, "port", 2525, HTTP_IF_MATCH=etag).status_code == 200
    assert_problem(put(client, token, "port", 2600, HTTP_IF_MATCH=etag), 412)
    assert_problem(put(client, token, "port", "not a port", HTTP_IF_MATCH=etag), 412)  # stale comes first
    assert _port() == "2525"
    current = call(client, "get", f"{API}/development/categories/smtp/", token)["ETag"]
    assert put(client, token, "port", 2600, HTTP_IF_MATCH=current).status_code == 200
    assert _port() == "2600"


def test_a_write_between_the_read_and_the_write_makes_if_match_stale(client, owner, data, monkeypatch):
    """The category's version is checked again under the lock: another key of the category changed after the read,
    so the PUT's write refuses itself and the locked path answers 412, with nothing written."""
    token = make_token(owner, "development", write=True)
    etag = call(client, "get", f"{API}/development/categories/smtp/", token)["ETag"]
    planned, pending = writes.plans_from, [True]

    def plans_then_interfere(*args, **kwargs):
        plans = planned(*args, **kwargs)
        while pending:  # once: the other writer's own write goes through here too
            pending.pop()
            _in_another_thread(
                lambda: services.set_value(category="smtp", key="host", environment="development", value="other")
            )
        return plans

    monkeypatch.setattr(writes, "plans_from", plans_then_interfere)
    assert_problem(put(client, token, "port", 2700, HTTP_IF_MATCH=etag), 412)
    monkeypatch.undo()
    assert _port() == "587"
    assert services.get_value(category="smtp", key="host", environment="development") == "other"


def test_a_token_without_secrets_cannot_write_a_secret_on_this_path_either(client, owner, data):
    token = make_token(owner, "development", write=True)
    before = ConfigurationHistory.objects.count()
    answer = put(client, token, "auth_pass", "guess")
    assert_problem(answer, 403)
    assert ConfigurationHistory.objects.count() == before
