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


def test_a_key_refused_twice_is_read_afresh_for_a_while(monkeypatch):
    """Another process keeps writing it (and no watcher says when): after its second refusal in the window,
    remembered again, it is still not trusted until the time is up, so that each write does not pay a refused round
    trip first."""
    write_memory.keep(HOST, _kept(1))
    write_memory.forget_keys([HOST], contended=True)
    write_memory.keep(HOST, _kept(1, seen_at=20))
    write_memory.forget_keys([HOST], contended=True)
    write_memory.keep(HOST, _kept(1, seen_at=25))
    assert write_memory.entries([HOST]) is None
    monkeypatch.setattr(write_memory, "CONTENDED_SECONDS", 0.0)
    write_memory.forget()
    write_memory.forget_keys([HOST], contended=True)
    write_memory.forget_keys([HOST], contended=True)  # the window is over at once: not marked
    write_memory.keep(HOST, _kept(1, seen_at=30))
    [entry] = write_memory.entries([HOST])
    assert entry.seen_at == 30


def test_a_single_refusal_leaves_the_key_trusted_once_remembered_again():
    """One write by another process costs one refused round trip, not a window of reads."""
    write_memory.keep(HOST, _kept(1))
    write_memory.forget_keys([HOST], contended=True)
    assert write_memory.entries([HOST]) is None
    write_memory.keep(HOST, _kept(1, seen_at=20))
    [entry] = write_memory.entries([HOST])
    assert entry.seen_at == 20


def test_refusals_far_apart_do_not_mark_a_key(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(write_memory.time, "monotonic", lambda: now[0])
    write_memory.forget_keys([HOST], contended=True)
    now[0] += write_memory.CONTENDED_SECONDS + 1
    write_memory.forget_keys([HOST], contended=True)
    write_memory.keep(HOST, _kept(1, seen_at=20))
    assert write_memory.entries([HOST]) is not None
    now[0] += 1
    write_memory.forget_keys([HOST], contended=True)  # the second within the window
    write_memory.keep(HOST, _kept(1, seen_at=21))
    assert write_memory.entries([HOST]) is None
    now[0] += write_memory.CONTENDED_SECONDS
    assert write_memory.entries([HOST]) is not None


def test_a_plain_forget_does_not_mark_a_key():
    write_memory.keep(HOST, _kept(1))
    write_memory.forget_keys([HOST])
    write_memory.keep(HOST, _kept(1, seen_at=20))
    assert write_memory.entries([HOST]) is not None
