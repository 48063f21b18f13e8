"""Reading .env text and the process environment into records (``CATEGORY_KEY=value`` lines).

Each line is matched against the known names (metadata and stored rows: services.known_env_names); an export's
``#:`` annotation line says exactly which key and type the next line is. Every problem is collected with its line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .formats import ENV_NAME, InputError, Parsed, Record
from .vocabulary import Problem

ANNOTATION = re.compile(r"#:\s*category=(\S+)\s+key=(\S+)\s+type=(\S+)\s+encrypted=(true|false)\s*$")


def parse_env(text: str, source: str, *, environment: str, known: Mapping[str, tuple[str, str]]) -> Parsed:
    """``CATEGORY_KEY=value`` lines, matched against ``known`` (env name -> (category, key)).

    Values are read as a POSIX shell reads them when single-quoted (``'it'\\''s'``, newlines kept), dotenv-style
    when double-quoted (``\\n`` escapes) and up to a `` #`` comment when bare. An annotation line
    ``#: category=C key=K type=T encrypted=B`` (written by export) names the next line's key and type exactly.
    Lines that match no known key are reported as skipped.
    """
    records, skipped, problems = [], [], []
    annotation = None
    reader = _EnvReader(text)
    while (line := reader.next_line()) is not None:
        number, stripped = line
        where = f"{source}:{number}"
        if not stripped or (stripped.startswith("#") and not stripped.startswith("#:")):
            continue
        if stripped.startswith("#:"):
            annotation = ANNOTATION.match(stripped)
            if annotation is None:
                problems.append(
                    Problem(where, "malformed annotation; expected '#: category=C key=K type=T encrypted=B'")
                )
            continue
        parsed = reader.assignment(where, problems)
        if parsed is not None:
            record = _env_record(*parsed, where, environment, known, annotation, skipped)
            if record:
                records.append(record)
        annotation = None
    if problems:
        raise InputError(problems)
    return Parsed(records, skipped)


def _env_record(name, value, where, environment, known, annotation, skipped) -> Record | None:
    if annotation:
        category, key, value_type, encrypted = annotation.groups()
        return Record(category, key, environment, value, value_type, encrypted == "true", where=f"{where} ({name})")
    match = known.get(name.upper())
    if match is None:
        skipped.append(Problem(f"{where} ({name})", "matches no known configuration key"))
        return None
    return Record(match[0], match[1], environment, value, where=f"{where} ({name})")


class _EnvReader:
    """Walks .env text line by line; an assignment's quoted value may run over several lines."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.number = text, 0, 0
        self.line_start = 0

    def next_line(self) -> tuple[int, str] | None:
        if self.pos >= len(self.text):
            return None
        self.number += 1
        self.line_start = self.pos
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        line = self.text[self.pos : end]
        self.pos = end + 1
        return self.number, line.strip()

    def assignment(self, where: str, problems: list[Problem]) -> tuple[str, str] | None:
        """Re-read the current line as ``NAME=value``; a quoted value may consume following lines."""
        self.pos = self.line_start
        line_end = self._line_end(self.pos)
        head = self.text[self.pos : line_end].lstrip()
        if head.startswith("export "):
            head = head[len("export ") :].lstrip()
        name, sep, _ = head.partition("=")
        name = name.strip()
        if not sep or not ENV_NAME.fullmatch(name):
            problems.append(Problem(where, "expected NAME=value"))
            self.pos = line_end + 1
            return None
        self.pos = self.text.index("=", self.pos) + 1
        try:
            value = self._value()
        except ValueError as error:
            problems.append(Problem(f"{where} ({name})", str(error)))
            self.pos = self._line_end(self.pos) + 1
            return None
        return name, value

    def _line_end(self, pos: int) -> int:
        end = self.text.find("\n", pos)
        return len(self.text) if end < 0 else end

    def _value(self) -> str:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1
        if self.pos >= len(self.text) or self.text[self.pos] not in "'\"":
            end = self._line_end(self.pos)
            bare = self.text[self.pos : end]
            self.pos = end + 1
            return bare.split(" #", 1)[0].rstrip()
        parts = []
        while self.pos < len(self.text) and self.text[self.pos] in "'\"\\":
            parts.append(self._quoted_part())
        self._only_comment_after()
        return "".join(parts)

    def _quoted_part(self) -> str:
        quote, start = self.text[self.pos], self.pos + 1
        if quote == "\\":  # the \' of 'it'\''s'
            self.pos += 2
            return self.text[start : self.pos]
        if quote == "'":
            closing = self.text.find("'", start)
            if closing < 0:
                raise ValueError("unterminated single-quoted value")
            self.number += self.text.count("\n", start, closing)
            self.pos = closing + 1
            return self.text[start:closing]
        out, index = [], start
        while index < len(self.text):
            char = self.text[index]
            if char == "\\" and index + 1 < len(self.text):
                out.append({"n": "\n", "t": "\t", "r": "\r"}.get(self.text[index + 1], self.text[index + 1]))
                index += 2
                continue
            if char == '"':
                self.number += self.text.count("\n", start, index)
                self.pos = index + 1
                return "".join(out)
            out.append(char)
            index += 1
        raise ValueError("unterminated double-quoted value")

    def _only_comment_after(self) -> None:
        end = self._line_end(self.pos)
        rest = self.text[self.pos : end].strip()
        self.pos = end + 1
        if rest and not rest.startswith("#"):
            raise ValueError(f"unexpected text after the quoted value: {rest[:20]!r}")


def parse_environ(
    environ: Mapping[str, str], *, prefix: str, environment: str, known: Mapping[str, tuple[str, str]]
) -> Parsed:
    """The spec's migration from environment variables: ``<prefix>CATEGORY_KEY`` variables."""
    records, skipped = [], []
    for name in sorted(environ):
        if not name.upper().startswith(prefix.upper()):
            continue
        bare = name[len(prefix) :].upper()
        match = known.get(bare)
        if match is None:
            if prefix:  # without a prefix most of the environment is unrelated: say nothing
                skipped.append(Problem(f"environment variable {name}", "matches no known configuration key"))
            continue
        records.append(Record(match[0], match[1], environment, environ[name], where=f"environment variable {name}"))
    return Parsed(records, skipped)
