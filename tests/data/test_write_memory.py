"""What the process remembers for its next writes (data/write_memory.py): bounded, copied, and forgetting exactly the
rows that changed after they were remembered."""

from __future__ import annotations

from configurations.data import write_memory
from configurations.data.models import SystemConfiguration

HOST = ("smtp", "host", "production")


def _kept(config_id: int, key: str = "host", *, seen_at: int = 10, value: str = "a") -> write_memory.Kept:
    row = SystemConfiguration(id=config_id, category="smtp", config_key=key, environment="production",
                              config_value=value)  # fmt: skip
    return write_memory.Kept(row=row, row_version="100", meta=None, meta_version=None, seen_at=seen_at)


def test_only_what_is_remembered_of_every_key_is_given(monkeypatch):
    write_memory.keep(HOST, _kept(1))
    assert write_memory.entries([HOST, ("smtp", "port", "production")]) is None
    [entry] = write_memory.entries([HOST])
    assert (entry.row.id, entry.row_version, entry.seen_at) == (1, "100", 10)


def test_the_least_recently_used_is_forgotten_first(monkeypatch):
    monkeypatch.setattr(write_memory, "KEPT", 2)
    for config_id, key in ((1, "host"), (2, "user"), (3, "port")):
        write_memory.keep(("smtp", key, "production"), _kept(config_id, key))
    assert write_memory.entries([HOST]) is None
    assert write_memory.entries([("smtp", "user", "production"), ("smtp", "port", "production")]) is not None


def test_rows_are_copied_in_and_out():
    entry = _kept(1)
    write_memory.keep(HOST, entry)
    entry.row.config_value = "changed by the caller"
    [given] = write_memory.entries([HOST])
    given.row.value_type = "json"
    [again] = write_memory.entries([HOST])
    assert (again.row.config_value, again.row.value_type) == ("a", "string")


def test_a_change_after_the_remembered_head_forgets_the_row_and_only_it():
    write_memory.keep(HOST, _kept(1, seen_at=10))
    write_memory.keep(("smtp", "user", "production"), _kept(2, "user", seen_at=10))
    assert write_memory.changed([(1, 9), (1, 10), (2, 10), (3, 50)]) == 0  # at or before the head: its own or older
    assert write_memory.changed([(1, 11)]) == 1
    assert write_memory.entries([HOST]) is None
    assert write_memory.entries([("smtp", "user", "production")]) is not None


def test_forget_forgets_everything():
    write_memory.keep(HOST, _kept(1))
    write_memory.forget()
    assert write_memory.entries([HOST]) is None


def test_a_change_the_watcher_read_is_remembered_as_it_is_now():
    """The watcher's delta up to head 30 gives the rows as they are now, with their versions: a remembered row that
    changed takes its new value and version at that head, keeping its metadata; one without a version (SQLite), one
    gone or one now under another key is forgotten."""
    write_memory.keep(HOST, _kept(1, seen_at=10))
    for config_id, key in ((2, "user"), (3, "port"), (4, "tls")):
        write_memory.keep(("smtp", key, "production"), _kept(config_id, key, seen_at=10))
    current = {
        1: (1, "production", "smtp", "host", "b", "string", False, True, "200"),
        2: (2, "production", "smtp", "user", "b", "string", False, True, None),
        4: (4, "production", "smtp", "renamed", "b", "string", False, True, "201"),
    }
    assert write_memory.changed([(1, 21), (2, 22), (3, 23), (4, 24)], current, 30) == 4
    [entry] = write_memory.entries([HOST])
    assert (entry.row.id, entry.row.config_value, entry.row_version, entry.seen_at) == (1, "b", "200", 30)
    for key in ("user", "port", "tls"):
        assert write_memory.entries([("smtp", key, "production")]) is None
    assert write_memory.changed([(1, 30)], current, 30) == 0  # not after its head: nothing to change
