"""Reading and writing configurations as JSON, YAML and .env text (docs/import-export.md); .env input: dotenv.py.

Parsing never touches the database: it turns input into ``Record``s, each knowing where it came from
(file and JSON/YAML path or line), and collects every problem instead of stopping at the first.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import yaml

from .. import conf
from . import values
from .vocabulary import Change, Problem

# An import file nests environment > category > key > value; a JSON value itself may nest MAX_JSON_DEPTH deep.
MAX_FILE_DEPTH = values.MAX_JSON_DEPTH + 8
FORMATS = ("json", "yaml", "env")
LONG_FORM_KEYS = {"value", "value_type", "is_encrypted", "masked"}
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PLAIN_ENV_VALUE = re.compile(r"[A-Za-z0-9_./:@+,=-]*")
ANNOTATION_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@dataclasses.dataclass(frozen=True)
class Record(Change):
    """One value to import, and where it was found (``masked``: a secret an export left out)."""

    where: str = ""
    masked: bool = False


class InputError(Exception):
    """Input that cannot be read; ``problems`` lists every one with where it is."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclasses.dataclass
class Parsed:
    """The records an import file holds, and what it skipped on purpose."""

    records: list[Record]
    skipped: list[Problem]  # input deliberately not imported (unknown .env names, masked secrets, filters)


def detect_format(name: str, given: str | None) -> str:
    """The format of an import file: the one given, else the one its name says (InputError if neither)."""
    if given:
        return given
    suffix = PurePath(name).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".env" or PurePath(name).name.startswith(".env"):
        return "env"
    raise InputError([Problem(name, "cannot tell the format from the file name; use --format json|yaml|env")])


def max_input_bytes() -> int:
    """The largest import accepted (``CONFIG_IMPORT_MAX_BYTES``, default 10 MiB)."""
    return conf.import_max_bytes()


def decode(raw: bytes, source: str) -> str:
    """The file's text, refused when it is too large or not UTF-8."""
    limit = max_input_bytes()
    if len(raw) > limit:
        raise InputError([Problem(source, f"is more than {limit} bytes (CONFIG_IMPORT_MAX_BYTES); split it")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError([Problem(source, f"is not UTF-8 text (byte {error.start} cannot be decoded)")]) from None


# ---------------------------------------------------------------------------- JSON / YAML


def parse_structured(text: str, fmt: str, source: str, *, environments: Iterable[str]) -> Parsed:
    """environment -> category -> key -> value, or key -> {value, value_type, is_encrypted}."""
    data = _load_json(text, source) if fmt == "json" else _load_yaml(text, source)
    if not isinstance(data, Mapping):
        raise InputError([Problem(source, "the top level must map environments to categories")])
    known = set(environments)
    records, problems = [], []
    for env, categories in data.items():
        where = f"{source}: $.{env}"
        if env not in known:
            problems.append(Problem(where, f"unknown environment {env!r}; use one of {', '.join(sorted(known))}"))
            continue
        if not isinstance(categories, Mapping):
            problems.append(Problem(where, "must map categories to keys"))
            continue
        for category, keys in categories.items():
            if not isinstance(keys, Mapping):
                problems.append(Problem(f"{where}.{category}", "must map keys to values"))
                continue
            for key, item in keys.items():
                record = _record(env, str(category), str(key), item, f"{where}.{category}.{key}", problems)
                if record:
                    records.append(record)
    if problems:
        raise InputError(problems)
    return Parsed(records, [])


def _record(env: str, category: str, key: str, item: Any, where: str, problems: list[Problem]) -> Record | None:
    if isinstance(item, Mapping) and "value" in item and set(item) <= LONG_FORM_KEYS:
        value_type = item.get("value_type")
        is_encrypted = item.get("is_encrypted")
        if value_type is not None and not isinstance(value_type, str):
            problems.append(Problem(where, "'value_type' must be a string"))
            return None
        if is_encrypted is not None and not isinstance(is_encrypted, bool):
            problems.append(Problem(where, "'is_encrypted' must be true or false"))
            return None
        return Record(
            category, key, env, item["value"], value_type, is_encrypted, where=where, masked=bool(item.get("masked"))
        )
    return Record(category, key, env, item, type_hint=type_of(item), where=where)


def type_of(item: Any) -> str:
    """The type a JSON or YAML scalar (or structure) stands for, for a key that has none yet."""
    if isinstance(item, bool):
        return "boolean"
    if isinstance(item, int | float | Decimal):
        return "number"
    if isinstance(item, Mapping | list):
        return "json"
    return "string"


def _unique_pairs(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _load_json(text: str, source: str) -> Any:
    try:
        values.check_json_depth(text, MAX_FILE_DEPTH)
        return json.loads(text, object_pairs_hook=_unique_pairs, parse_float=Decimal, parse_int=values.bounded_int)
    except json.JSONDecodeError as error:
        raise InputError([Problem(f"{source}:{error.lineno}:{error.colno}", f"malformed JSON: {error.msg}")]) from None
    except ValueError as error:  # duplicate keys, nesting, numbers out of range (ValueTypeError)
        raise InputError([Problem(source, f"cannot be read: {error}")]) from None


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys, aliases (whose expansion is unbounded) and deep nesting."""

    depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted; write the value out", mark)
        self.depth += 1
        try:
            if self.depth > MAX_FILE_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"nests deeper than {MAX_FILE_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_yaml_int(self, node):
        digits = str(node.value).lstrip("+-").replace("_", "")
        if len(digits) > values.MAX_NUMBER_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"a number of more than {values.MAX_NUMBER_DIGITS} digits", node.start_mark
            )
        return super().construct_yaml_int(node)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)


def _load_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(error, "problem", None) or str(error)
        raise InputError([Problem(where, f"malformed YAML: {problem}")]) from None
    except (ValueError, RecursionError) as error:
        raise InputError([Problem(source, f"cannot be read: {error}")]) from None


# ----------------------------------------------------------------------------------- .env


def env_name(category: str, key: str) -> str:
    """The variable name of a key: ``CATEGORY_KEY`` upper-cased, other characters than [A-Z0-9_] as ``_``."""
    return re.sub(r"[^A-Z0-9_]", "_", f"{category}_{key}".upper())


# ---------------------------------------------------------------------------------- export


@dataclasses.dataclass(frozen=True)
class ExportItem:
    """One configuration as the exports write it."""

    environment: str
    category: str
    key: str
    value_type: str
    is_encrypted: bool
    text: str | None  # None: a secret not exported
    typed: Any = None


def dump(items: list[ExportItem], fmt: str) -> str:
    """The items in an export format (json, yaml or env)."""
    if fmt == "env":
        return _dump_env(items)
    tree: dict = {}
    for item in items:
        entry = {"value": _json_value(item), "value_type": item.value_type, "is_encrypted": item.is_encrypted}
        if item.text is None:
            entry["masked"] = True
        tree.setdefault(item.environment, {}).setdefault(item.category, {})[item.key] = entry
    if fmt == "json":
        return json.dumps(tree, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


def _json_value(item: ExportItem) -> Any:
    if item.text is None:
        return None
    if item.value_type == "boolean":
        return item.typed
    if item.value_type == "number":
        return item.typed if isinstance(item.typed, int) else item.text  # fractions as text: no float rounding
    if item.value_type == "json":
        return item.typed
    return item.text


def _dump_env(items: list[ExportItem]) -> str:
    """One ``NAME='value'`` per key, inert when sourced by a POSIX shell (``set -a; . ./file``).

    Values are single-quoted (the shell expands nothing inside; ``'`` is written ``'\\''``), so ``$``, backticks,
    backslashes and newlines mean nothing to the shell and come back exactly, through the shell and through
    import. A key whose variable name or annotation could not be written safely is refused.
    """
    if len({item.environment for item in items}) > 1:
        raise InputError([Problem("export", "the env format holds one environment; give --environment")])
    problems = [problem for item in items if (problem := _unsafe_env_name(item))]
    if problems:
        raise InputError(problems)
    lines = []
    for item in items:
        name = env_name(item.category, item.key)
        encrypted = "true" if item.is_encrypted else "false"
        if item.text is None:
            lines.append(f"# {name}: secret not exported (use --include-secrets)")
            continue
        lines.append(f"#: category={item.category} key={item.key} type={item.value_type} encrypted={encrypted}")
        lines.append(f"{name}={_env_quote(item.text)}")
    return "\n".join(lines) + ("\n" if lines else "")


def _unsafe_env_name(item: ExportItem) -> Problem | None:
    where = f"{item.category}.{item.key} [{item.environment}]"
    if not ENV_NAME.fullmatch(env_name(item.category, item.key)):
        return Problem(where, f"cannot be written as a shell variable ({env_name(item.category, item.key)!r})")
    if not ANNOTATION_NAME.fullmatch(item.category) or not ANNOTATION_NAME.fullmatch(item.key):
        return Problem(where, "its category or key holds characters the env format cannot write safely")
    return None


def _env_quote(text: str) -> str:
    if PLAIN_ENV_VALUE.fullmatch(text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"
