"""data.chain: the canonical text of a history row and its link, the same whatever the engine's types."""

from __future__ import annotations

import datetime
import hashlib
import uuid

from configurations.data import chain


def _row(**changes):
    row = dict.fromkeys(chain.FIELDS)
    row.update(id=7, config_id=3, created_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC), action="update")
    row.update(changes)
    return [row[name] for name in chain.FIELDS]


def test_nulls_and_empty_texts_differ_and_no_two_rows_share_a_text():
    assert chain.content(*_row(old_value=None)) != chain.content(*_row(old_value=""))
    assert chain.content(*_row(old_value="a", new_value="b")) != chain.content(*_row(old_value="ab", new_value=None))


def test_sqlite_and_postgresql_types_give_the_same_text():
    user = uuid.uuid4()
    as_postgresql = _row(changed_by=user, is_secret=True, ip_address="10.0.0.1")
    as_sqlite = _row(changed_by=user.hex, is_secret=1, ip_address="10.0.0.1",
                     created_at="2026-01-01 00:00:00")  # fmt: skip
    assert chain.content(*as_postgresql) == chain.content(*as_sqlite)


def test_a_link_is_sha256_of_the_previous_link_and_the_text():
    text = chain.content(*_row())
    assert chain.chain_hash(None, text) == hashlib.sha256(text.encode()).hexdigest()
    assert chain.chain_hash("ab", text) == hashlib.sha256(("ab" + text).encode()).hexdigest()
