"""Provider templates: checking template_data, and turning a template plus variables into changes.

``template_data`` is ``{"configs": {key: text with {{VARIABLE}} placeholders}, "variables": [{"name",
"description", "required", "example", "validation", "secret"}], "instructions": [text]}``. Variable validation
uses the metadata rule language and the one engine (``validation``). ``"secret": true`` makes a variable secret
(a password input, never stored readable, never shown again), as does feeding a key that is a secret.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from . import validation
from .secrecy import reveal

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
VARIABLE_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
VARIABLE_FIELDS = {"name", "description", "required", "example", "validation", "secret"}
TOP_LEVEL = {"configs", "variables", "instructions"}


@dataclasses.dataclass(frozen=True)
class Variable:
    """A variable a template asks for: name, label, whether it is a secret or required."""

    name: str
    description: str
    required: bool
    example: str | None
    rules: dict
    secret: bool = False


def check(data: Any, *, template: str) -> list[str]:
    """Everything wrong with ``template_data``, each message naming the template and the item."""
    if not isinstance(data, dict):
        return [f"{template}: template data must be a JSON object"]
    errors = [f"{template}: unknown top-level item {name!r}" for name in data if name not in TOP_LEVEL]
    errors += _check_configs(data.get("configs"), template)
    errors += _check_variables(data.get("variables", []), template)
    errors += _check_instructions(data.get("instructions", []), template)
    if not errors:
        errors += _check_usage(data, template)
    return errors


def _check_configs(configs: Any, template: str) -> list[str]:
    if not isinstance(configs, dict) or not configs:
        return [f"{template}: 'configs' must be a non-empty object mapping keys to values"]
    errors = [
        f"{template}: configs.{key} must be a string, got {type(value).__name__}"
        for key, value in configs.items()
        if not isinstance(value, str)
    ]
    return errors + [
        f"{template}: configs: {problem}" for key in configs for problem in validation.name_problems(key=key)
    ]


def _check_variables(variables: Any, template: str) -> list[str]:
    if not isinstance(variables, list):
        return [f"{template}: 'variables' must be a list"]
    errors, seen = [], set()
    for position, variable in enumerate(variables):
        where = f"{template}: variables[{position}]"
        if not isinstance(variable, dict):
            errors.append(f"{where} must be an object")
            continue
        name = variable.get("name")
        where = f"{template}: variable {name}" if isinstance(name, str) else where
        if not isinstance(name, str) or not VARIABLE_NAME.fullmatch(name):
            errors.append(f"{where}: 'name' must be UPPER_CASE letters, digits and underscores")
        elif name in seen:
            errors.append(f"{where}: declared twice")
        seen.add(name)
        errors += [f"{where}: unknown field {field!r}" for field in variable if field not in VARIABLE_FIELDS]
        for flag in ("required", "secret"):
            if flag in variable and not isinstance(variable[flag], bool):
                errors.append(f"{where}: '{flag}' must be true or false")
        for text_field in ("description", "example"):
            if text_field in variable and not isinstance(variable[text_field], str):
                errors.append(f"{where}: '{text_field}' must be a string")
        errors += [f"{where}: validation: {e}" for e in validation.check_rules(variable.get("validation"))]
    return errors


def _check_instructions(instructions: Any, template: str) -> list[str]:
    if not isinstance(instructions, list) or not all(isinstance(line, str) for line in instructions):
        return [f"{template}: 'instructions' must be a list of strings"]
    return []


def _check_usage(data: dict, template: str) -> list[str]:
    declared = {v["name"] for v in data.get("variables", [])}
    used = placeholders(data["configs"])
    errors = [
        f"{template}: configs.{key} uses {{{{{name}}}}}, which is not a declared variable"
        for key, value in data["configs"].items()
        for name in PLACEHOLDER.findall(value)
        if name not in declared
    ]
    errors += [f"{template}: variable {name} is declared but never used" for name in sorted(declared - used)]
    return errors


def placeholders(configs: dict[str, str]) -> set[str]:
    """The {{NAME}} placeholders a template's configs use."""
    return {name for value in configs.values() for name in PLACEHOLDER.findall(value)}


def variables(data: dict) -> list[Variable]:
    """The variables a template declares, with those its configs use and do not declare."""
    return [
        Variable(
            name=v["name"],
            description=v.get("description", ""),
            required=v.get("required", False),
            example=v.get("example"),
            rules=v.get("validation") or {},
            secret=v.get("secret", False),
        )
        for v in data.get("variables", [])
    ]


def keys_using(data: dict, name: str) -> list[str]:
    """The config keys whose value uses variable ``name``."""
    return [key for key, value in data["configs"].items() if name in PLACEHOLDER.findall(value)]


def variable_problems(data: dict, given: dict[str, str], *, template: str) -> list[str]:
    """Unknown, missing and invalid variables, each named."""
    declared = {v.name: v for v in variables(data)}
    errors = [f"{template}: unknown variable {name}" for name in sorted(set(given) - set(declared))]
    for variable in declared.values():
        value = reveal(given.get(variable.name))
        if value in (None, ""):
            if variable.required:
                errors.append(f"{template}: variable {variable.name} is required ({variable.description})")
            continue
        errors += [
            f"{template}: {validation.sentence(f'variable {variable.name}', problem.message)}"
            for problem in validation.problems(value, variable.rules, numeric=False)
        ]
    return errors


def render(data: dict, given: dict[str, str]) -> dict[str, str]:
    """The template's configs with every placeholder replaced (missing optional variables become '').

    A key whose text is nothing but placeholders of optional variables that were not given is left out: the
    template does not touch it (an optional sender left empty keeps what the key had).
    """
    return {
        key: PLACEHOLDER.sub(lambda m: reveal(given.get(m.group(1), "")), value)
        for key, value in data["configs"].items()
        if not _only_missing_placeholders(value, given)
    }


def _only_missing_placeholders(text: str, given: dict) -> bool:
    names = PLACEHOLDER.findall(text)
    return bool(names) and not PLACEHOLDER.sub("", text).strip() and all(given.get(n) in (None, "") for n in names)
