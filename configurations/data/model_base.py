"""What the models share: the user model, the spec's name rule as a constraint, validation on save, identity."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from ..core import validation


def in_choices(field: str, choices: type[models.TextChoices]) -> Q:
    """Whether the column's value is one of the choices (a CHECK constraint's condition)."""
    return Q(**{f"{field}__in": choices.values})


def valid_name(field: str, length: int, name: str) -> models.CheckConstraint:
    """The name rule of core.validation (NAME_RULE) as a CHECK constraint: same characters, column length."""
    return models.CheckConstraint(
        condition=Q(**{f"{field}__regex": validation.NAME_RULE_SQL}) & LessThanOrEqual(Length(field), length),
        name=name,
        violation_error_message=f"The {field} name breaks the naming rule.",
    )


class PostgresGinIndex(GinIndex):
    """A GIN index on PostgreSQL; a no-op statement on other databases."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return "SELECT 1"
        return super().create_sql(model, schema_editor, using=using, **kwargs)

    def remove_sql(self, model, schema_editor, **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return "SELECT 1"
        return super().remove_sql(model, schema_editor, **kwargs)


class User(AbstractUser):
    """The spec's ``users`` table: UUID primary key, email and username."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    class Meta(AbstractUser.Meta):
        db_table = "users"
        swappable = "AUTH_USER_MODEL"


class CheckedOnSave(models.Model):
    """A model whose ``clean()`` runs on every save, not only in forms: a typo in rules or template data
    (``"maxLenght"``) must never silently switch checking off."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        self.clean()
        super().save(*args, **kwargs)


def user_column(name: str, *, on_delete) -> models.ForeignKey:
    """A nullable reference to a user in a column of the spec's name (no reverse accessor, no index of its own)."""
    return models.ForeignKey(
        User, null=True, blank=True, on_delete=on_delete, db_column=name, db_index=False, related_name="+"
    )


class KeyedByCategory(models.Model):
    """The spec's identity of a setting: a category and a key within it, with the spec's lengths."""

    category = models.CharField(max_length=50)
    config_key = models.CharField(max_length=100)

    class Meta:
        abstract = True
