"""What counts as a secret, and a type that carries one without showing it.

A key is a secret when its metadata's input type is password, when its row is encrypted, or when its name
contains one of ``CONFIG_SECRET_KEY_PATTERNS`` (case-insensitive substrings). A secret is always stored
encrypted. Its plaintext travels through forms, changes and plans as a ``Secret``, whose ``repr()`` and
``str()`` are the mask, so no debug page, log record or traceback can show it; ``reveal()`` unwraps it
explicitly where the plaintext is really needed (validation, encryption, comparison).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from .. import conf
from .vocabulary import SECRET_MASK, InputType


class Secret:
    """A secret value; shows as the mask until ``reveal()`` is called."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value.reveal() if isinstance(value, Secret) else value

    def reveal(self) -> Any:
        """The value itself, for code that must use it (never for display)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({SECRET_MASK!r})"

    def __str__(self) -> str:
        return SECRET_MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):
        raise TypeError("a Secret is never pickled or serialized; reveal() it deliberately and encrypt it")


def reveal(value: Any) -> Any:
    """The plaintext of a Secret; any other value as it is."""
    return value.reveal() if isinstance(value, Secret) else value


def conceal(value: Any, secret: bool) -> Any:
    """``value`` wrapped as a Secret when ``secret`` (and not empty), else as it is."""
    return Secret(value) if secret and value not in (None, "") and not isinstance(value, Secret) else value


def is_secret_key(key: str, *, input_type: str | None = None, is_encrypted: bool | None = None) -> bool:
    """Whether a key is a secret: password metadata, an encrypted row, or a secret-looking name."""
    return input_type == InputType.PASSWORD or bool(is_encrypted) or name_is_secret(key)


def why_secret(key: str, *, input_type: str | None = None, is_encrypted: bool | None = None) -> str:
    """Why a key is a secret, for messages."""
    if input_type == InputType.PASSWORD:
        return "its metadata's input type is password"
    if is_encrypted:
        return "its stored value is encrypted"
    return "its name marks it a secret (CONFIG_SECRET_KEY_PATTERNS)"


def name_is_secret(key: str) -> bool:
    """Whether the key's name marks it a secret (``CONFIG_SECRET_KEY_PATTERNS``)."""
    return name_matcher()(key)


def name_matcher() -> Callable[[str], bool]:
    """``name_is_secret`` with the patterns read once, for loops over many keys (a snapshot's full load)."""
    return _matcher(tuple(conf.secret_key_patterns()))


@functools.lru_cache(maxsize=8)
def _matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """One compiled matcher per set of patterns (the setting changes in tests; a process keeps one)."""
    if not patterns:
        return lambda key: False
    search = re.compile("|".join(map(re.escape, patterns))).search
    return lambda key: search(key.lower()) is not None
