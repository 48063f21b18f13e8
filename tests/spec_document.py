"""The SQL of the user's design document, taken from the document itself."""

from __future__ import annotations

import re
from pathlib import Path

SPEC = Path(__file__).resolve().parent.parent / "docs" / "spec" / "configuration-schema.md"


def statement(starting_with: str) -> str:
    """The spec's SQL statement that starts with ``starting_with`` (a comment or its first words).

    The statement runs up to the first line that ends with ';'.
    """
    text = SPEC.read_text()
    start = text.index(starting_with)
    end = text.index(";\n", start)
    return text[start : end + 1]


def with_named_params(sql: str) -> str:
    """Turn the spec's ``$1``-style parameters into psycopg's ``%(p1)s``."""
    return re.sub(r"\$(\d+)", r"%(p\1)s", sql)
