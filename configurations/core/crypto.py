"""Secrets at rest: AES-256-GCM envelopes bound to their row (docs/encryption.md).

Envelope: ``encrypted:AES256:v1:<key id>:<nonce>:<ciphertext>``, nonce and ciphertext (with GCM's
tag) in unpadded urlsafe base64. The associated data is the row's identity (environment, category,
key), so an envelope copied to another row does not decrypt. Keys come from
``CONFIG_ENCRYPTION_KEYS``: the first key encrypts, every key decrypts.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .. import conf
from .vocabulary import ENVELOPE_PREFIX, label

PREFIX = f"{ENVELOPE_PREFIX}AES256:v1:"
KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
NONCE_BYTES = 12


class EncryptionError(Exception):
    """Encryption is not possible (no key configured)."""


class KeyConfigurationError(EncryptionError):
    """``CONFIG_ENCRYPTION_KEYS`` is malformed; the message says where."""


class DecryptionError(Exception):
    """A stored secret could not be decrypted; the message says why, never what it holds."""


@dataclasses.dataclass(frozen=True)
class Keyring:
    """The encryption keys by id; the first encrypts, every one decrypts."""

    keys: dict[str, bytes]
    active_id: str | None

    def key(self, key_id: str) -> bytes:
        """The key with this id; DecryptionError if the keyring has none."""
        try:
            return self.keys[key_id]
        except KeyError:
            raise DecryptionError(
                f"the value was encrypted with key {key_id!r}, which is not in CONFIG_ENCRYPTION_KEYS"
            ) from None


def parse_keys(setting: str) -> Keyring:
    """Parse ``<key id>:<urlsafe base64 of 32 bytes>,...``; raise KeyConfigurationError naming the entry."""
    keys: dict[str, bytes] = {}
    entries = [entry.strip() for entry in setting.split(",") if entry.strip()]
    for position, entry in enumerate(entries, start=1):
        key_id, sep, encoded = entry.partition(":")
        where = f"CONFIG_ENCRYPTION_KEYS entry {position}"
        if not sep or not KEY_ID.fullmatch(key_id):
            raise KeyConfigurationError(
                f"{where}: expected '<key id>:<base64 key>' with an id of letters, digits, '_.-'"
            )
        if key_id in keys:
            raise KeyConfigurationError(f"{where}: key id {key_id!r} appears twice")
        keys[key_id] = _decode_key(encoded, where)
    return Keyring(keys=keys, active_id=next(iter(keys), None))


def _decode_key(encoded: str, where: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise KeyConfigurationError(f"{where}: the key is not urlsafe base64") from None
    if len(key) != 32:
        raise KeyConfigurationError(f"{where}: the key is {len(key)} bytes; AES-256 needs 32")
    return key


@functools.lru_cache(maxsize=4)
def _keyring_for(setting: str) -> Keyring:
    return parse_keys(setting)


def keyring() -> Keyring:
    """The keyring of CONFIG_ENCRYPTION_KEYS (cached until the setting changes)."""
    return _keyring_for(conf.encryption_keys_setting())


def new_key_entry(key_id: str) -> str:
    """A fresh ``<key id>:<key>`` entry for CONFIG_ENCRYPTION_KEYS."""
    if not KEY_ID.fullmatch(key_id):
        raise KeyConfigurationError("a key id is 1-32 letters, digits or '_.-'")
    return f"{key_id}:{_b64(AESGCM.generate_key(bit_length=256))}"


def is_envelope(value: str | None) -> bool:
    """Whether a stored text is an encrypted envelope."""
    return isinstance(value, str) and value.startswith(ENVELOPE_PREFIX)


def envelope_key_id(value: str) -> str | None:
    """The id of the key that sealed an envelope (None if it is not one)."""
    parts = value.split(":")
    return parts[3] if len(parts) == 6 and value.startswith(PREFIX) else None


def _associated_data(environment: str, category: str, key: str) -> bytes:
    return "\x1f".join((environment, category, key)).encode()


def encrypt(plaintext: str, *, environment: str, category: str, key: str, ring: Keyring | None = None) -> str:
    """Seal a plaintext with the current key, bound to where it is stored."""
    ring = ring or keyring()
    if ring.active_id is None:
        raise EncryptionError("cannot store a secret: CONFIG_ENCRYPTION_KEYS is not set")
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.keys[ring.active_id]).encrypt(
        nonce, plaintext.encode(), _associated_data(environment, category, key)
    )
    return f"{PREFIX}{ring.active_id}:{_b64(nonce)}:{_b64(sealed)}"


def decrypt(envelope: str, *, environment: str, category: str, key: str, ring: Keyring | None = None) -> str:
    """Open an envelope with the key that sealed it; DecryptionError if no key or binding fits."""
    where = label(category, key, environment)
    if not envelope.startswith(PREFIX) or len(envelope.split(":")) != 6:
        raise DecryptionError(f"{where}: the stored value is not an encrypted:AES256:v1 envelope")
    _, _, _, key_id, nonce, sealed = envelope.split(":")
    try:
        secret_key = (ring or keyring()).key(key_id)
    except DecryptionError as error:
        raise DecryptionError(f"{where}: {error}") from None
    try:
        plaintext = AESGCM(secret_key).decrypt(
            _unb64(nonce), _unb64(sealed), _associated_data(environment, category, key)
        )
    except (InvalidTag, ValueError, binascii.Error):
        raise DecryptionError(
            f"{where}: the value does not decrypt with key {key_id!r}: it was altered, or belongs to another row"
        ) from None
    return plaintext.decode()


def seal(data: bytes, *, purpose: str, ring: Keyring | None = None) -> dict:
    """Encrypt and authenticate a whole document (e.g. a snapshot file) bound to ``purpose``."""
    ring = ring or keyring()
    if ring.active_id is None:
        raise EncryptionError("cannot seal: CONFIG_ENCRYPTION_KEYS is not set")
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.keys[ring.active_id]).encrypt(nonce, data, purpose.encode())
    return {"key_id": ring.active_id, "nonce": _b64(nonce), "sealed": _b64(sealed)}


def unseal(document: dict, *, purpose: str, ring: Keyring | None = None) -> bytes:
    """The data of a sealed document; DecryptionError if it was altered, is for another purpose or key."""
    try:
        secret_key = (ring or keyring()).key(str(document["key_id"]))
        return AESGCM(secret_key).decrypt(_unb64(document["nonce"]), _unb64(document["sealed"]), purpose.encode())
    except (KeyError, TypeError, InvalidTag, ValueError, binascii.Error):
        raise DecryptionError("the sealed document does not verify: it was altered, or sealed elsewhere") from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
