"""Models that mirror docs/spec/configuration-schema.md table for table.

Column names, types, CHECK and UNIQUE constraints, database defaults and index
definitions follow the spec so that its SQL runs unchanged; docs/schema.md lists
every place where this differs from the spec and why.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, models, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower, Now
from django.utils.translation import gettext_lazy as _

from .. import conf
from ..core import crypto, stored, templates_engine, validation
from ..core.secrecy import reveal
from ..core.vocabulary import (
    ENVIRONMENTS,
    Environment,
    HistoryAction,
    InputType,
    ValueType,
    label,
)
from .change_records import AuditChainHead, recorded_history
from .history_models import (
    ConfigurationHistory,
    ConfigurationHistoryArchive,
    HistoryArchive,
    HistoryChainHead,
    HistoryRollback,
)
from .model_base import CheckedOnSave, KeyedByCategory, PostgresGinIndex, User, in_choices, user_column, valid_name
from .review_models import ChangeRequest, ChangeRequestApproval, ChangeRequestItem, RequestState, ReviewPolicy
from .token_models import ApiToken
from .webhook_models import (
    ConfigurationEvent,
    DeliveryState,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSecret,
)

__all__ = [
    "ENVIRONMENTS",
    "ApiToken",
    "AuditChainHead",
    "ChangeRequest",
    "ChangeRequestApproval",
    "ChangeRequestItem",
    "ConfigurationEvent",
    "ConfigurationHistory",
    "ConfigurationHistoryArchive",
    "ConfigurationMetadata",
    "ConfigurationTemplate",
    "DeliveryState",
    "Environment",
    "EventType",
    "HistoryAction",
    "HistoryArchive",
    "HistoryChainHead",
    "HistoryRollback",
    "InputType",
    "PostgresGinIndex",
    "RequestState",
    "ReviewPolicy",
    "SecretKeyPattern",
    "SentTestEmail",
    "SystemConfiguration",
    "User",
    "ValueType",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookSecret",
]


class SystemConfigurationQuerySet(models.QuerySet):
    """Queries of configurations: active rows, an environment, a category."""

    def active(self) -> SystemConfigurationQuerySet:
        return self.filter(is_active=True)

    def for_category(self, category: str, environment: str) -> SystemConfigurationQuerySet:
        return self.filter(category=category, environment=environment)

    def with_secret_flag(self) -> SystemConfigurationQuerySet:
        """Annotate ``is_secret`` (core.secrecy): encrypted, password metadata, or a secret-looking key name."""
        password_metadata = ConfigurationMetadata.objects.passwords().filter(
            category=OuterRef("category"), config_key=OuterRef("config_key")
        )
        secret = Q(is_encrypted=True) | Exists(password_metadata)
        for pattern in conf.secret_key_patterns():
            secret |= Q(config_key__icontains=pattern)
        return self.annotate(is_secret=secret)

    def secrets(self) -> SystemConfigurationQuerySet:
        return self.with_secret_flag().filter(is_secret=True)


class ConfigurationMetadataQuerySet(models.QuerySet):
    """Queries of metadata: the password keys of a category."""

    def passwords(self) -> ConfigurationMetadataQuerySet:
        """Metadata of keys whose input type is password (secrets by declaration)."""
        return self.filter(input_type=InputType.PASSWORD)

    def password_keys(self, category: str) -> set[str]:
        """The keys of ``category`` that metadata declares secret."""
        return set(self.passwords().filter(category=category).values_list("config_key", flat=True))


class SystemConfiguration(KeyedByCategory):
    """One value of a key in an environment: the spec's system_configurations."""

    config_value = models.TextField(null=True, blank=True)
    value_type = models.CharField(
        max_length=20, choices=ValueType.choices, default=ValueType.STRING, db_default=ValueType.STRING
    )
    is_encrypted = models.BooleanField(default=False, db_default=False)
    is_active = models.BooleanField(default=True, db_default=True)
    environment = models.CharField(
        max_length=20,
        choices=Environment.choices,
        default=Environment.DEVELOPMENT,
        db_default=Environment.DEVELOPMENT,
    )
    updated_by = user_column("updated_by", on_delete=models.SET_NULL)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)

    objects = SystemConfigurationQuerySet.as_manager()

    class Meta:
        db_table = "system_configurations"
        verbose_name = _("configuration")
        ordering = ("category", "environment", "config_key")
        # Editing is granted per environment (docs/admin.md, Permissions); production needs its own.
        permissions = [(f"edit_{env}", f"Can edit {env} configurations") for env in ENVIRONMENTS]
        constraints = [
            models.UniqueConstraint(
                fields=("category", "config_key", "environment"),
                name="unique_config_key_per_category_env",
                violation_error_message="A configuration with this category, key and environment already exists.",
            ),
            models.CheckConstraint(
                condition=in_choices("value_type", ValueType), name="system_configurations_value_type_check"
            ),
            models.CheckConstraint(
                condition=in_choices("environment", Environment), name="system_configurations_environment_check"
            ),
            valid_name("category", validation.MAX_CATEGORY_LENGTH, "system_configurations_category_name"),
            valid_name("config_key", validation.MAX_KEY_LENGTH, "system_configurations_key_name"),
        ]
        indexes = [
            # Spec names shortened to Django's 30-character limit (docs/schema.md).
            models.Index(fields=["category"], name="idx_sysconf_category"),
            models.Index(fields=["environment"], name="idx_sysconf_env"),
            models.Index(fields=["is_active"], name="idx_sysconf_active"),
            models.Index(fields=["category", "environment"], name="idx_sysconf_category_env"),
            models.Index(fields=["updated_at"], name="idx_sysconf_updated_at"),
            models.Index(fields=["category", "environment", "is_active"], name="idx_config_category_env_active"),
            models.Index(fields=["-updated_at"], name="idx_config_updated_at_desc"),
            models.Index(fields=["category", "config_key"], condition=Q(is_active=True), name="idx_config_active_only"),
        ]

    def __str__(self) -> str:
        return f"{self.category}.{self.config_key} [{self.environment}]"

    @property
    def label(self) -> str:
        return label(self.category, self.config_key, self.environment)

    def plaintext(self) -> str | None:
        """The stored text, decrypted if it is encrypted (DecryptionError if it cannot be)."""
        return stored.plaintext(self.config_value, **self._identity())

    def typed_value(self):
        """The Python value of the row: decrypted, parsed by its value_type."""
        return stored.typed(self.config_value, self.value_type, **self._identity())

    def _identity(self) -> dict:
        return {
            "is_encrypted": self.is_encrypted,
            "environment": self.environment,
            "category": self.category,
            "key": self.config_key,
        }

    def clean(self) -> None:
        """The value against its type and its key's metadata rules, with the one engine."""
        meta = ConfigurationMetadata.objects.filter(category=self.category, config_key=self.config_key).first()
        value = reveal(self.config_value)
        try:
            if self.is_encrypted and crypto.is_envelope(value):
                value = self.plaintext()
            validation.checked_text(
                value,
                value_type=self.value_type,
                where=self.label,
                rules=meta.validation_rules if meta else None,
                input_type=meta.input_type if meta else None,
                required=bool(meta and meta.is_required),
                name=meta.display_name if meta else self.config_key,
            )
        except crypto.DecryptionError as error:
            raise ValidationError({"config_value": [ValidationError(str(error), code="decrypt")]}) from None
        except ValidationError as error:
            raise ValidationError({"config_value": error.error_list}) from None


class ConfigurationMetadata(KeyedByCategory, CheckedOnSave):
    """A key's rules and form: the spec's configuration_metadata."""

    display_name = models.CharField(max_length=200)
    description = models.TextField(null=True, blank=True)
    input_type = models.CharField(
        max_length=20, choices=InputType.choices, default=InputType.TEXT, db_default=InputType.TEXT
    )
    # The key's type, the single source of it (the spec's validation function reads it): every write stores it.
    value_type = models.CharField(max_length=20, choices=ValueType.choices, null=True, blank=True)
    validation_rules = models.JSONField(null=True, blank=True)
    default_value = models.TextField(null=True, blank=True)
    is_required = models.BooleanField(default=False, db_default=False)
    sort_order = models.IntegerField(default=0, db_default=0)
    group_name = models.CharField(max_length=100, null=True, blank=True)
    help_text = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    objects = ConfigurationMetadataQuerySet.as_manager()
    history = recorded_history("configuration_metadata_changes")

    class Meta:
        db_table = "configuration_metadata"
        verbose_name = _("configuration metadata")
        verbose_name_plural = _("configuration metadata")
        ordering = ("category", "sort_order", "config_key")
        constraints = [
            models.UniqueConstraint(fields=("category", "config_key"), name="unique_metadata_key_per_category"),
            models.CheckConstraint(
                condition=in_choices("input_type", InputType), name="configuration_metadata_input_type_check"
            ),
            models.CheckConstraint(
                condition=Q(value_type__isnull=True) | in_choices("value_type", ValueType),
                name="configuration_metadata_value_type_check",
            ),
            valid_name("category", validation.MAX_CATEGORY_LENGTH, "configuration_metadata_category_name"),
            valid_name("config_key", validation.MAX_KEY_LENGTH, "configuration_metadata_key_name"),
        ]
        indexes = [
            models.Index(fields=["category"], name="idx_confmeta_category"),
            models.Index(fields=["group_name"], name="idx_confmeta_group"),
            models.Index(fields=["category", "sort_order"], name="idx_confmeta_sort"),
        ]

    def __str__(self) -> str:
        return f"{self.category}.{self.config_key}"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        names = validation.name_problems(category=self.category, key=self.config_key)
        if names:
            errors["config_key"] = names
        rule_errors = validation.check_rules(self.validation_rules, input_type=self.input_type)
        rule_errors += _pattern_errors_in_database(self.validation_rules)
        if rule_errors:
            errors["validation_rules"] = rule_errors
        elif self.default_value not in (None, ""):
            numeric = InputType.NUMBER in (self.input_type, self.value_type)
            found = validation.problems(self.default_value, self.validation_rules, numeric=numeric)
            if found:
                errors["default_value"] = [
                    validation.sentence("The default", problem.message) + f" (rule {problem.rule})" for problem in found
                ]
        if errors:
            raise ValidationError(errors)


def _pattern_errors_in_database(rules) -> list[str]:
    """PostgreSQL's regex dialect must accept the pattern too, since validate_configuration_value() uses it."""
    pattern = rules.get("pattern") if isinstance(rules, dict) else None
    if not isinstance(pattern, str) or connection.vendor != "postgresql":
        return []
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT '' ~ %s", [pattern])
    except DatabaseError as error:
        return [f"'pattern' is not valid in PostgreSQL: {str(error).splitlines()[0]}"]
    return []


class SecretKeyPattern(models.Model):
    """One of ``CONFIG_SECRET_KEY_PATTERNS``, where the database's own checks can read it (data/secret_patterns.py).

    Written by ``migrate`` (post_migrate, as the owner); the application role may only read it, so it cannot
    take a pattern away and then store that key's value in the clear.
    """

    pattern = models.CharField(max_length=100, primary_key=True)

    class Meta:
        db_table = "configuration_secret_patterns"
        constraints = [
            models.CheckConstraint(condition=~Q(pattern="") & Q(pattern=Lower("pattern")), name="secret_pattern_lower")
        ]

    def __str__(self) -> str:
        return self.pattern


class ConfigurationTemplate(CheckedOnSave):
    """A provider's ready-made configuration of a category: the spec's configuration_templates."""

    provider_name = models.CharField(max_length=50)
    category = models.CharField(max_length=50)
    template_data = models.JSONField()
    description = models.TextField(null=True, blank=True)
    is_active = models.BooleanField(default=True, db_default=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    history = recorded_history("configuration_templates_changes")

    class Meta:
        db_table = "configuration_templates"
        verbose_name = _("configuration template")
        ordering = ("category", "provider_name")
        constraints = [
            models.UniqueConstraint(fields=("provider_name", "category"), name="unique_provider_category"),
            valid_name("category", validation.MAX_CATEGORY_LENGTH, "configuration_templates_category_name"),
        ]
        indexes = [
            models.Index(fields=["provider_name"], name="idx_conftmpl_provider"),
            models.Index(fields=["category"], name="idx_conftmpl_category"),
            models.Index(fields=["is_active"], name="idx_conftmpl_active"),
            PostgresGinIndex(fields=["template_data"], name="idx_template_data_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_name} ({self.category})"

    def clean(self) -> None:
        name = f"template {self.provider_name}/{self.category}"
        errors = [f"{name}: {problem}" for problem in validation.name_problems(category=self.category)]
        errors += templates_engine.check(self.template_data, template=name)
        if not errors:
            errors = _secret_mixing(self, name)
        if errors:
            raise ValidationError({"template_data": errors})


def _secret_mixing(template: ConfigurationTemplate, name: str) -> list[str]:
    """A variable that fills a password key must not also fill a plain key, where it would be stored in the clear."""
    password_keys = ConfigurationMetadata.objects.password_keys(template.category)
    errors = []
    for variable in templates_engine.variables(template.template_data):
        keys = set(templates_engine.keys_using(template.template_data, variable.name))
        if keys & password_keys and keys - password_keys:
            errors.append(
                f"{name}: variable {variable.name} fills the secret key {sorted(keys & password_keys)[0]} and the "
                f"plain key {sorted(keys - password_keys)[0]}, where the secret would be stored in the clear"
            )
    return errors


class SentTestEmail(models.Model):
    """Each "Send test email" attempt and its result (who, when, where to, what happened)."""

    environment = models.CharField(max_length=20, choices=Environment.choices)
    recipient = models.EmailField()
    sent_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(db_default=Now())
    succeeded = models.BooleanField()
    result = models.TextField()

    class Meta:
        db_table = "configuration_test_emails"
        ordering = ("-created_at", "-id")
        verbose_name = _("sent test email")
        verbose_name_plural = _("sent test emails")

    def __str__(self) -> str:
        return f"test email to {self.recipient} [{self.environment}]"
