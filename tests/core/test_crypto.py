"""AES-256-GCM envelopes: round trips, row binding, loud failures, key parsing."""

from __future__ import annotations

import base64

import pytest

from configurations.core import crypto

ROW = {"environment": "production", "category": "smtp", "key": "auth_pass"}


def _key(byte: int) -> str:
    return base64.urlsafe_b64encode(bytes([byte]) * 32).decode()


RING = crypto.parse_keys(f"new:{_key(1)},old:{_key(2)}")


@pytest.mark.parametrize("plaintext", ["", "hunter2", "ünïcødé 🔑 ✓", "x" * 65536])
def test_round_trip(plaintext):
    envelope = crypto.encrypt(plaintext, ring=RING, **ROW)
    assert envelope.startswith("encrypted:AES256:v1:new:")
    assert plaintext not in envelope or plaintext == ""
    assert crypto.decrypt(envelope, ring=RING, **ROW) == plaintext


def test_two_encryptions_differ():
    assert crypto.encrypt("same", ring=RING, **ROW) != crypto.encrypt("same", ring=RING, **ROW)


@pytest.mark.parametrize("other", [{"environment": "staging"}, {"category": "mail"}, {"key": "auth_user"}])
def test_envelope_copied_to_another_row_fails(other):
    envelope = crypto.encrypt("secret", ring=RING, **ROW)
    with pytest.raises(crypto.DecryptionError, match="altered, or belongs to another row"):
        crypto.decrypt(envelope, ring=RING, **{**ROW, **other})


def test_tampered_byte_fails():
    envelope = crypto.encrypt("secret", ring=RING, **ROW)
    prefix, sealed = envelope.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4)))
    raw[0] ^= 1
    tampered = f"{prefix}:{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"
    with pytest.raises(crypto.DecryptionError, match="altered"):
        crypto.decrypt(tampered, ring=RING, **ROW)


def test_unknown_key_id_fails():
    envelope = crypto.encrypt("secret", ring=crypto.parse_keys(f"gone:{_key(3)}"), **ROW)
    with pytest.raises(crypto.DecryptionError, match="key 'gone', which is not in CONFIG_ENCRYPTION_KEYS"):
        crypto.decrypt(envelope, ring=RING, **ROW)


def test_not_an_envelope_fails_and_never_returns_the_input():
    with pytest.raises(crypto.DecryptionError, match="not an encrypted:AES256:v1 envelope"):
        crypto.decrypt("encrypted:AES256:...", ring=RING, **ROW)


def test_all_keys_decrypt_and_the_first_encrypts():
    old_only = crypto.parse_keys(f"old:{_key(2)}")
    envelope = crypto.encrypt("v", ring=old_only, **ROW)
    assert crypto.decrypt(envelope, ring=RING, **ROW) == "v"
    assert crypto.envelope_key_id(crypto.encrypt("v", ring=RING, **ROW)) == "new"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("nokeyid", "entry 1: expected '<key id>:<base64 key>'"),
        (f"a:{_key(1)},bad id:{_key(2)}", "entry 2: expected"),
        ("a:c2hvcnQ", "entry 1: the key is 5 bytes; AES-256 needs 32"),
        ("a:!!!notbase64!!!", "entry 1: the key is"),
        (f"a:{_key(1)},a:{_key(2)}", "key id 'a' appears twice"),
    ],
)
def test_malformed_keys_are_reported(setting, message):
    with pytest.raises(crypto.KeyConfigurationError, match=message):
        crypto.parse_keys(setting)


def test_no_keys_means_no_encryption():
    with pytest.raises(crypto.EncryptionError, match="CONFIG_ENCRYPTION_KEYS is not set"):
        crypto.encrypt("x", ring=crypto.parse_keys(""), **ROW)


def test_new_key_entry_parses():
    entry = crypto.new_key_entry("k2026")
    ring = crypto.parse_keys(entry)
    assert ring.active_id == "k2026" and len(ring.keys["k2026"]) == 32
