"""The words of the domain, each defined once and imported everywhere else.

Environments, value types, input types, history actions, write outcomes, the secret mask, the history's
secret marker, the envelope prefix, the error for a missing configuration, and how messages name one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models.enums import TextChoices
from django.utils.translation import gettext_lazy as _


class Environment(TextChoices):
    """The four environments of the spec."""

    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"
    TEST = "test"


class ValueType(TextChoices):
    """The four value types of the spec."""

    STRING = "string", _("String")
    NUMBER = "number", _("Number")
    BOOLEAN = "boolean", _("Boolean")
    JSON = "json", _("JSON")


ENVIRONMENTS: tuple[str, ...] = tuple(Environment.values)
VALUE_TYPES: tuple[str, ...] = tuple(ValueType.values)


class InputType(TextChoices):
    """The spec's input types of the admin's widgets."""

    TEXT = "text"
    PASSWORD = "password"
    NUMBER = "number"
    SELECT = "select"
    TEXTAREA = "textarea"
    CHECKBOX = "checkbox"
    RADIO = "radio"


# The value type an input type implies for a new key, and the input a key without metadata gets.
VALUE_TYPE_OF_INPUT = {InputType.NUMBER: ValueType.NUMBER, InputType.CHECKBOX: ValueType.BOOLEAN}
INPUT_OF_VALUE_TYPE = {
    ValueType.NUMBER: InputType.NUMBER,
    ValueType.BOOLEAN: InputType.CHECKBOX,
    ValueType.JSON: InputType.TEXTAREA,
}


def value_type_for_input(input_type: str | None) -> str:
    """The value type of a new key whose metadata has ``input_type`` (string unless it implies one)."""
    return VALUE_TYPE_OF_INPUT.get(input_type, ValueType.STRING)


class HistoryAction(TextChoices):
    """What a history row records: a row created, updated, deactivated, reactivated or deleted; or a checkpoint of
    history archived by partition (docs/operations.md, History partitions)."""

    CREATE = "create"
    UPDATE = "update"
    DEACTIVATE = "deactivate"
    REACTIVATE = "reactivate"
    DELETE = "delete"
    CHECKPOINT = "checkpoint"


class Outcome(TextChoices):
    """What writing one requested value does; the label is how a report says it happened."""

    ADD = "add", "added"
    CHANGE = "change", "changed"
    REACTIVATE = "reactivate", "changed"
    UNCHANGED = "unchanged", "unchanged"


# How a preview (before anything is written) shows each outcome.
PREVIEW_STATUS = {
    Outcome.ADD: "new",
    Outcome.CHANGE: "changed",
    Outcome.REACTIVATE: "changed",
    Outcome.UNCHANGED: "same",
}

# Shown wherever a secret's value would be.
SECRET_MASK = "••••••••"
# The start of what configuration_history keeps instead of a secret (the SQL trigger writes the same).
HISTORY_SECRET_MARKER = "[secret"
# The start of every stored secret envelope (the SQL trigger recognises the same).
ENVELOPE_PREFIX = "encrypted:"
# RFC 9457 problem details: the API's errors, and the 503 of every path while the database is away.
# Marks the placeholder answer of a long poll whose wait api/deferred.py finishes on the event loop (never sent).
PENDING_HEADER = "X-Configurations-Pending"
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://configurations.invalid/problems/"


class ConfigurationNotFound(ObjectDoesNotExist, KeyError):
    """No active configuration for this category, key and environment."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "configuration not found"


class EnvironmentPermissionDenied(PermissionDenied):
    """The acting user may not edit an environment the request needs; the message says which."""


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 key``, ``3 keys``: a count with its noun in the right number."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def label(category: str, key: str, environment: str) -> str:
    """How messages name a configuration: ``category.key [environment]``."""
    return f"{category}.{key} [{environment}]"


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong and what it is about: a place in an input (file and line or path), or a rule's name."""

    where: str
    message: str

    @property
    def rule(self) -> str:
        """For a value's problem: the name of the rule it breaks."""
        return self.where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclasses.dataclass(frozen=True)
class Change:
    """A requested value for one configuration (``value_type``/``is_encrypted`` None: decided by the key)."""

    category: str
    key: str
    environment: str
    value: Any
    value_type: str | None = None
    is_encrypted: bool | None = None
    # A guess from the input's shape (a YAML ``true``, a JSON ``25``), used only for a key that has no type yet.
    type_hint: str | None = None

    @property
    def label(self) -> str:
        """The change's key as messages name it: category.key (environment)."""
        return label(self.category, self.key, self.environment)
