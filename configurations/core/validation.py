"""The one validation engine: the rules of configuration_metadata.validation_rules.

Rules: ``required``, ``minLength``, ``maxLength``, ``pattern``, ``options``, ``min``, ``max`` and
``custom.emailValidation`` / ``custom.domainValidation``. ``check_rules`` vets a rule set when
metadata is saved; ``problems`` checks a value against one. Every write path (model validation,
services, admin forms, templates, import) calls these; the PL/pgSQL ``validate_configuration_value()``
gives the same verdict for every rule both support (proved by a Hypothesis test).

Semantics, shared with the SQL function:
- An empty value (NULL or '') is valid exactly when it is not required; other rules apply to values.
- Lengths count characters.
- ``min``/``max`` apply to numeric keys (input_type ``number`` or value_type ``number``), whose values
  must look like ``-?[0-9]+(.[0-9]+)?``.
- ``options`` compares the value with each option's text (``true``/``false`` for booleans).
- ``pattern`` searches (unanchored unless the pattern anchors itself), with PostgreSQL's meaning of
  ``.`` (any character) and ``$`` (end of the value only), under a length cap and a time limit.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import regex
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator

from .. import conf
from . import values
from .vocabulary import InputType, Problem, ValueType

RULE_NAMES = (
    "required", "minLength", "maxLength", "pattern", "patternDescription", "options", "min", "max", "integer", "custom",
)  # fmt: skip
CUSTOM_RULES = ("emailValidation", "domainValidation")
MAX_PATTERN_LENGTH = 500
# Category and key names: what every page can show in a URL and every format can write (one rule, also a
# CHECK constraint in the database).
NAME_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*", re.ASCII)
NAME_RULE_SQL = r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z"  # the same, for PostgreSQL's ~ and SQLite's REGEXP
MAX_CATEGORY_LENGTH = 50
MAX_KEY_LENGTH = 100
_UNSET = object()
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
PLAIN_INTEGER = re.compile(r"-?[0-9]+")
HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def checked_text(
    value: Any,
    *,
    value_type: str,
    where: str,
    rules: dict | None = None,
    input_type: str | None = None,
    required: bool = False,
    name: str = "The value",
) -> str:
    """The canonical stored text of ``value`` as ``value_type``, checked against ``rules``.

    Raises a ValidationError listing every problem: each message starts with ``where`` and then says, for a
    person, what is wrong (``SMTP Port must be at most 65535``); its code is the rule's name (``type`` when the
    value is not of its type), for the API and the tests.
    """
    text = canonical_text(value, value_type, where, name=name)
    text_problem = _text_problem(text)
    if text_problem:
        raise DjangoValidationError([DjangoValidationError(f"{where}: {name} {text_problem}", code="text")])
    numeric = value_type == ValueType.NUMBER or input_type == InputType.NUMBER
    found = problems(text, rules, numeric=numeric, required=required)
    if rules and rules.get("integer") is True and not _written_as_integer(value):
        found = [p for p in found if p.rule != "integer"]
        found.append(Problem("integer", "must be a whole number written with digits only, such as 587"))
    if found:
        raise DjangoValidationError(
            [DjangoValidationError(f"{where}: {sentence(name, p.message)}", code=p.rule) for p in found]
        )
    return text


def _written_as_integer(value: Any) -> bool:
    """The integer rule takes what it says: digits (an optional minus), or a JSON integer; not ``+587``, ``1e2``,
    ``587.0`` or a JSON float, which typing would otherwise turn into an integer first. Empty is ``required``'s."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and (value.strip() == "" or PLAIN_INTEGER.fullmatch(value.strip()) is not None)


_VERBS = ("is ", "has ", "holds ", "must ", "may ", "contains ", "took ", "cannot ", "does ")


def sentence(name: str, message: str) -> str:
    """A problem as a sentence about ``name``: ``SMTP Port must be at most 65535``."""
    return f"{name} {message}" if message.startswith(_VERBS) else message[:1].upper() + message[1:]


def _text_problem(text: str) -> str | None:
    """What no stored text may hold, whatever the key's rules: too much, NUL, or invalid Unicode."""
    if len(text) > values.MAX_VALUE_LENGTH:
        return f"is {len(text)} characters long; the limit is {values.MAX_VALUE_LENGTH}"
    if "\x00" in text:
        return f"contains a NUL character (at position {text.index(chr(0)) + 1}), which cannot be stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"contains invalid Unicode (a lone surrogate at position {error.start + 1})"
    return None


def name_problems(*, category: Any = _UNSET, key: Any = _UNSET) -> list[str]:
    """Problems of the names given: non-empty, within the column lengths, NAME_RULE's characters."""
    found = []
    for what, name, limit in (("category", category, MAX_CATEGORY_LENGTH), ("key", key, MAX_KEY_LENGTH)):
        if name is _UNSET:
            continue
        if not isinstance(name, str) or not name:
            found.append(f"the {what} name is empty")
        elif len(name) > limit:
            found.append(f"the {what} name is {len(name)} characters long; the limit is {limit}")
        elif not NAME_RULE.fullmatch(name):
            found.append(
                f"the {what} name {_shown_name(name)} may contain only letters, digits, '_', '-' and '.', "
                "and must start with a letter or a digit"
            )
    return found


def _shown_name(name: str) -> str:
    shown = repr(name)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def canonical_text(value: Any, value_type: str, where: str, *, name: str = "The value") -> str:
    """The stored text of ``value`` as ``value_type`` ('' for no value); ValidationError if it is not one."""
    if value is None or value == "":
        return ""
    try:
        return values.to_text(value_type, value)
    except values.ValueTypeError as error:
        raise DjangoValidationError(
            [DjangoValidationError(f"{where}: {sentence(name, str(error))}", code="type")]
        ) from None


def is_required(rules: dict | None, is_required_column: bool = False) -> bool:
    """Whether a key must have a value: its metadata column or its rules say so."""
    return bool(is_required_column) or (isinstance(rules, dict) and rules.get("required") is True)


def problems(value: str | None, rules: dict | None, *, numeric: bool, required: bool = False) -> list[Problem]:
    """Every rule of ``rules`` that ``value`` (stored text) breaks; empty when it is valid."""
    rules = rules if isinstance(rules, dict) else {}
    if value is None or value == "":
        return [Problem("required", "is required")] if is_required(rules, required) else []
    found: list[Problem] = []
    if "minLength" in rules and len(value) < rules["minLength"]:
        found.append(Problem("minLength", f"must be at least {rules['minLength']} characters long"))
    if "maxLength" in rules and len(value) > rules["maxLength"]:
        found.append(Problem("maxLength", f"must be at most {rules['maxLength']} characters long"))
    if numeric:
        found.extend(_numeric_problems(value, rules))
    if "options" in rules and value not in {option_text(o) for o in rules["options"]}:
        shown = ", ".join(option_text(o) for o in rules["options"])
        found.append(Problem("options", f"must be one of: {shown}"))
    if "pattern" in rules:
        found.extend(_pattern_problems(value, rules["pattern"], rules.get("patternDescription")))
    found.extend(_custom_problems(value, rules.get("custom") or {}))
    return found


def option_text(option: Any) -> str:
    """An option as the text a value is compared with (as PostgreSQL's ``jsonb ->> `` gives it)."""
    if isinstance(option, bool):
        return "true" if option else "false"
    return str(option)


def _numeric_problems(value: str, rules: dict) -> list[Problem]:
    if not NUMBER.fullmatch(value):
        return [Problem("number", "must be a number such as 42 or -1.5")]
    number = Decimal(value)
    found = []
    if rules.get("integer") is True and number != number.to_integral_value():
        found.append(Problem("integer", "must be a whole number"))
    if "min" in rules and number < Decimal(str(rules["min"])):
        found.append(Problem("min", f"must be at least {rules['min']}"))
    if "max" in rules and number > Decimal(str(rules["max"])):
        found.append(Problem("max", f"must be at most {rules['max']}"))
    return found


def _pattern_problems(value: str, pattern: str, description: str | None = None) -> list[Problem]:
    try:
        matched = compile_pattern(pattern).search(value, timeout=conf.pattern_timeout())
    except TimeoutError:
        return [Problem("pattern", "took too long to check against the pattern; the value is refused")]
    return [] if matched else [Problem("pattern", description or "does not have the expected form")]


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> regex.Pattern:
    """Compile with PostgreSQL's meaning of ``.`` and ``$`` (see the module docstring)."""
    return regex.compile(_end_anchor_only_at_end(pattern), regex.DOTALL)


def _end_anchor_only_at_end(pattern: str) -> str:
    r"""Turn each unescaped ``$`` outside a character class into ``\Z``.

    In Python ``$`` also matches before a final newline; in PostgreSQL it does not.
    """
    out = []
    in_class = escaped = False
    for index, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]" or pattern[index - 1] == "["
        elif char == "[":
            in_class = True
        elif char == "$":
            out.append(r"\Z")
            continue
        out.append(char)
    return "".join(out)


def _custom_problems(value: str, custom: dict) -> list[Problem]:
    found = []
    if custom.get("emailValidation") and not _is_email(value):
        found.append(Problem("custom.emailValidation", "must be an email address"))
    if custom.get("domainValidation") and not is_host(value):
        found.append(Problem("custom.domainValidation", "must be a host name or an IP address"))
    return found


def _is_email(value: str) -> bool:
    try:
        EmailValidator()(value)
    except DjangoValidationError:
        return False
    return True


def is_host(value: str) -> bool:
    """A DNS host name (``localhost`` included) or an IPv4/IPv6 address."""
    try:
        ipaddress.ip_address(value.strip("[]"))
        return True
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    return 0 < len(name) <= 253 and all(HOST_LABEL.fullmatch(label) for label in name.split("."))


# ----------------------------------------------------------------------------- rule sets


def check_rules(rules: Any, *, input_type: str | None = None) -> list[str]:
    """Everything wrong with a rule set, as sentences; empty when it is usable."""
    if rules is None:
        rules = {}
    if not isinstance(rules, dict):
        return ["validation rules must be a JSON object"]
    errors = [
        f"unknown rule {name!r}; known rules: {', '.join(RULE_NAMES)}" for name in rules if name not in RULE_NAMES
    ]
    errors += _check_kinds(rules)
    if "pattern" in rules and isinstance(rules["pattern"], str):
        errors += _check_pattern(rules["pattern"])
    errors += _check_bounds(rules, "minLength", "maxLength")
    errors += _check_bounds(rules, "min", "max")
    if input_type in ("select", "radio") and not rules.get("options"):
        errors.append(f"a {input_type} needs a non-empty 'options' list")
    return errors


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return False
    try:
        return Decimal(str(value)).is_finite()
    except InvalidOperation:
        return False


def _check_kinds(rules: dict) -> list[str]:
    errors = []
    for flag in ("required", "integer"):
        if flag in rules and not isinstance(rules[flag], bool):
            errors.append(f"'{flag}' must be true or false")
    for name in ("minLength", "maxLength"):
        if name in rules and not _is_count(rules[name]):
            errors.append(f"{name!r} must be a whole number of characters, 0 or more")
    for name in ("min", "max"):
        if name in rules and not _is_number(rules[name]):
            errors.append(f"{name!r} must be a number")
    for text_rule in ("pattern", "patternDescription"):
        if text_rule in rules and not isinstance(rules[text_rule], str):
            errors.append(f"'{text_rule}' must be a string")
    if "options" in rules:
        options = rules["options"]
        if not isinstance(options, list) or not all(
            isinstance(o, str | bool) or (isinstance(o, int) and not isinstance(o, bool)) for o in options
        ):
            errors.append("'options' must be a list of strings, whole numbers or booleans")
    if "custom" in rules:
        errors += _check_custom(rules["custom"])
    return errors


def _check_custom(custom: Any) -> list[str]:
    if not isinstance(custom, dict):
        return ["'custom' must be an object"]
    errors = [
        f"unknown custom rule {name!r}; known: {', '.join(CUSTOM_RULES)}" for name in custom if name not in CUSTOM_RULES
    ]
    errors += [
        f"'custom.{name}' must be true or false"
        for name in CUSTOM_RULES
        if name in custom and not isinstance(custom[name], bool)
    ]
    return errors


def _check_pattern(pattern: str) -> list[str]:
    if len(pattern) > MAX_PATTERN_LENGTH:
        return [f"'pattern' is longer than {MAX_PATTERN_LENGTH} characters"]
    try:
        compile_pattern(pattern)
    except regex.error as error:
        return [f"'pattern' does not compile: {error}"]
    return []


def _check_bounds(rules: dict, low: str, high: str) -> list[str]:
    both = low in rules and high in rules and _is_number(rules[low]) and _is_number(rules[high])
    if both and Decimal(str(rules[low])) > Decimal(str(rules[high])):
        return [f"{low!r} ({rules[low]}) is greater than {high!r} ({rules[high]})"]
    return []
