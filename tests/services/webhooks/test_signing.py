"""Signatures as the Standard Webhooks reference library computes and verifies them."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from configurations.services.webhooks import signing


def test_a_new_secret_is_whsec_and_32_random_bytes():
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert signing.new_secret() != secret


def test_the_signature_is_the_reference_librarys():
    secret, now, body = signing.new_secret(), int(time.time()), b'{"type":"webhook.test"}'
    reference = Webhook(secret).sign("evt_1", _datetime(now), body)
    assert signing.signature(secret, "evt_1", now, body) == reference


def test_the_reference_library_verifies_our_headers_and_refuses_a_changed_body():
    secret, body = signing.new_secret(), b'{"a":1}'
    headers = signing.headers([secret], "evt_7", int(time.time()), body)
    assert Webhook(secret).verify(body, headers) == {"a": 1}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', headers)


def _datetime(timestamp: int):
    import datetime

    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
