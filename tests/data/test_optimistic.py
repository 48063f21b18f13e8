"""The data layer of a write in two round trips (PostgreSQL): what ``read`` reads, and ``write`` landing whole or not at
all, with real concurrent writers and the database's own refusals (data/optimistic.py, data/triggers/hot_path.py)."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.db import connection

from configurations import services
from configurations.data import audit, optimistic
from configurations.models import ConfigurationHistory, ConfigurationMetadata, SystemConfiguration
from tests.factories import MetadataFactory, editor_of
from tests.services.test_writes import PROD, _entries, _in_another_thread

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _fresh_metadata(**fields):
    """smtp.host's metadata as the test makes it (the migrations seed one, which a test running first still sees)."""
    ConfigurationMetadata.objects.filter(category="smtp", config_key="host").delete()
    return MetadataFactory(category="smtp", config_key="host", **fields)


def test_read_gives_rows_metadata_and_their_versions_without_a_lock():
    _fresh_metadata(validation_rules={"maxLength": 100})
    services.set_value(key="host", value="a.example.com", **PROD)
    seen = optimistic.read({("smtp", "host", "production"), ("smtp", "absent", "production")})
    row = seen.rows[("smtp", "host", "production")]
    assert (row.config_value, list(seen.rows)) == ("a.example.com", [("smtp", "host", "production")])
    assert seen.metadata[("smtp", "host")].validation_rules == {"maxLength": 100}
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text FROM system_configurations WHERE id = %s", [row.id])
        assert seen.row_versions == {row.id: cursor.fetchone()[0]}
    assert len(seen.metadata_versions) == 1 and seen.metadata_versions[0].startswith(
        f"{seen.metadata[('smtp', 'host')].id}:"
    )
    assert connection.connection.info.transaction_status == 0  # no transaction, no lock left open


@pytest.mark.parametrize("changed", ["host", "user"])
def test_a_stale_read_writes_nothing_at_all_and_answers_what_is_there_now(changed):
    """The data layer itself: two rows read, one of them changed by another writer (its type: a plan made on what was
    read no longer holds), and the write of both writes neither row, nor any history, and answers both rows as they are
    now, with their versions (migration 0032)."""
    services.set_value(key="host", value="h1", **PROD)
    services.set_value(key="user", value="u1", **PROD)
    triples = {("smtp", "host", "production"), ("smtp", "user", "production")}
    seen = optimistic.read(triples)
    _in_another_thread(lambda: services.set_value(key=changed, value="7", value_type="number", **PROD))
    count = ConfigurationHistory.objects.count()
    rows = [seen.rows[("smtp", key, "production")] for key in ("host", "user")]
    for row in rows:
        row.config_value = "ours"
    now = optimistic.write(rows, seen, context=audit.context_for(reason="r"), pairs={("smtp", "production")})
    assert ConfigurationHistory.objects.count() == count
    values = dict(SystemConfiguration.objects.filter(category="smtp").values_list("config_key", "config_value"))
    assert values == {"host": "h1", "user": "u1", changed: "7"}
    assert connection.connection.info.transaction_status == 0
    assert isinstance(now, optimistic.Read)
    assert {key: row.config_value for (_, key, _), row in now.rows.items()} == values
    assert now.row_versions == optimistic.read(triples).row_versions  # the versions they have now
    assert (
        now.row_versions[rows[0].id if changed == "host" else rows[1].id]
        != seen.row_versions[rows[0].id if changed == "host" else rows[1].id]
    )


def test_what_a_stale_write_answers_is_what_a_read_gives_field_for_field():
    """The write answers what it read instead as JSON (migration 0034's nine columns); typed back, its rows and
    metadata are the very instances ``read`` makes: timestamps, the actor's id, the rules' JSON, flags and numbers."""
    editor = editor_of(username="editor")
    _fresh_metadata(validation_rules={"maxLength": 100, "pattern": "^[a-z0-9.]+$"})
    services.set_value(key="host", value="h1", actor=editor, **PROD)
    triple = ("smtp", "host", "production")
    seen = optimistic.read({triple})
    _in_another_thread(lambda: services.set_value(key="host", value="7", value_type="number", actor=editor, **PROD))
    row = seen.rows[triple]
    row.config_value = "ours"
    now = optimistic.write([row], seen, context=audit.context_for(reason="r"), pairs={("smtp", "production")})
    assert isinstance(now, optimistic.Read)
    fresh = optimistic.read({triple})

    def fields(instance):
        return {name: value for name, value in vars(instance).items() if name != "_state"}

    assert fields(now.rows[triple]) == fields(fresh.rows[triple])
    assert fields(now.metadata[("smtp", "host")]) == fields(fresh.metadata[("smtp", "host")])
    assert (now.row_versions, now.metadata_versions) == (fresh.row_versions, fresh.metadata_versions)
    answered = now.rows[triple]
    assert (answered.value_type, answered.updated_by_id, type(answered.updated_at)) == ("number", editor.pk, datetime)


def test_a_refusal_by_the_database_rolls_the_whole_message_back():
    """A row marked encrypted whose value is not an envelope, sent straight to the data layer: the refusal trigger
    raises, and neither the write, its history nor the category lock outlives the message."""
    services.set_value(key="host", value="a.example.com", **PROD)
    row = SystemConfiguration.objects.get(config_key="host")
    seen = optimistic.read({("smtp", "host", "production")})
    row.config_value, row.is_encrypted = "plain", True
    with pytest.raises(Exception, match="not an encrypted envelope"):
        optimistic.write([row], seen, context=audit.context_for(reason="raw"), pairs={("smtp", "production")})
    assert services.get_value(key="host", **PROD) == "a.example.com"
    assert [e.new_value for e in _entries("host")] == ["a.example.com"]
    assert connection.connection.info.transaction_status == 0
    locks = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    with connection.cursor() as cursor:
        cursor.execute(locks)
        assert cursor.fetchone()[0] == 0  # the category lock ended with the rolled-back message
