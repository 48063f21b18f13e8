"""From stored text to the value it stands for: the one decrypt-and-parse used by every reader.

Services, the runtime snapshot, export and the admin all call these, so they agree on every row: a secret
is decrypted with the row's identity as associated data, and an empty stored value ("" or NULL) reads as
``None`` for every type but string, which keeps the text as stored.
"""

from __future__ import annotations

from typing import Any

from . import crypto, values
from .vocabulary import ValueType


def plaintext(text: str | None, *, is_encrypted: bool, environment: str, category: str, key: str) -> str | None:
    """The stored text, decrypted if it is encrypted (DecryptionError if it cannot be)."""
    if is_encrypted and text is not None:
        return crypto.decrypt(text, environment=environment, category=category, key=key)
    return text


def typed(text: str | None, value_type: str, *, is_encrypted: bool, environment: str, category: str, key: str) -> Any:
    """The Python value of a stored value (DecryptionError, or ValueTypeError if it does not parse)."""
    plain = plaintext(text, is_encrypted=is_encrypted, environment=environment, category=category, key=key)
    return parse_stored(plain, value_type)


def parse_stored(plain: str | None, value_type: str) -> Any:
    """The Python value of already decrypted stored text."""
    if plain in (None, ""):
        return plain if value_type == ValueType.STRING else None
    return values.parse(value_type, plain, stored=True)
