"""observability.requestlog: a request id per request, in every log record, never a client's malformed one."""

from __future__ import annotations

import logging

from configurations.observability import requestlog


def test_a_well_formed_client_id_is_kept_and_anything_else_replaced():
    assert requestlog.new_request_id("abc-123") == "abc-123"
    for bad in ("", None, "a b", "x" * 65, "id\nforged log line"):
        replaced = requestlog.new_request_id(bad)
        assert replaced != bad and len(replaced) == 32


def test_the_bound_id_reaches_every_record_until_unbound():
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "m", (), None)
    before = requestlog.current()
    token = requestlog.bind("req-1")
    assert requestlog.RequestIdFilter().filter(record) and record.request_id == "req-1"
    requestlog.unbind(token)
    assert requestlog.current() == before
