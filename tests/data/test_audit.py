"""Client IP resolution and the audit context's transaction rules."""

from __future__ import annotations

import pytest
from django.db import connection

from configurations.data import audit

TRUSTED = "10.0.0.1"  # tests/settings.py


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"REMOTE_ADDR": "192.0.2.1"}, "192.0.2.1"),
        ({"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}, "192.0.2.1"),
        ({"REMOTE_ADDR": TRUSTED, "HTTP_X_FORWARDED_FOR": "203.0.113.5"}, "203.0.113.5"),
        ({"REMOTE_ADDR": TRUSTED, "HTTP_X_FORWARDED_FOR": "198.51.100.7, 203.0.113.5"}, "203.0.113.5"),
        ({"REMOTE_ADDR": TRUSTED, "HTTP_X_FORWARDED_FOR": "203.0.113.5, 10.0.0.1"}, "203.0.113.5"),
        ({"REMOTE_ADDR": TRUSTED, "HTTP_X_FORWARDED_FOR": "not-an-ip"}, TRUSTED),
        ({"REMOTE_ADDR": TRUSTED, "HTTP_X_FORWARDED_FOR": "2001:db8::1"}, "2001:db8::1"),
        ({"REMOTE_ADDR": "garbage"}, None),
        ({}, None),
    ],
)
def test_client_ip(meta, expected):
    assert audit.client_ip(meta) == expected


@pytest.mark.django_db(transaction=True)
def test_apply_refuses_to_run_outside_a_transaction():
    # A transaction-local setting outside a transaction would vanish before the write it is for.
    assert not connection.in_atomic_block
    with pytest.raises(RuntimeError, match="inside a transaction"):
        audit.apply(audit.AuditContext(reason="lost"))


def test_user_agent_is_truncated(db):
    values = audit.settings_of(audit.AuditContext(user_agent="x" * 5000), connection.vendor)
    assert len(values["app.user_agent"]) == audit.USER_AGENT_MAX_LENGTH
