"""Webhooks: the transactional outbox the triggers fill, the endpoints that subscribe, and each delivery's state.

``ConfigurationEvent`` rows are written by the database in the transaction of the change (data/triggers/outbox.py
and the history triggers), never by the application: every path emits one event per change, a rolled-back one
none. The dispatcher (services/webhooks/dispatch.py) fans each event out into one ``WebhookDelivery`` per
matching ``WebhookEndpoint`` and sends it, signed with the endpoint's ``WebhookSecret`` (encrypted at rest).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from .change_records import recorded_history
from .model_base import in_choices


class EventType(models.TextChoices):
    """What an event announces (the ``type`` of a webhook's body)."""

    CONFIGURATION_CREATED = "configuration.created"
    CONFIGURATION_UPDATED = "configuration.updated"
    CONFIGURATION_DEACTIVATED = "configuration.deactivated"
    CONFIGURATION_REACTIVATED = "configuration.reactivated"
    CONFIGURATION_DELETED = "configuration.deleted"
    CHANGE_REQUEST_APPLIED = "change_request.applied"
    METADATA_CHANGED = "metadata.changed"
    TEMPLATE_CHANGED = "template.changed"
    TEST = "webhook.test"


# The history action each configuration event stands for.
ACTION_EVENTS = {
    "create": EventType.CONFIGURATION_CREATED,
    "update": EventType.CONFIGURATION_UPDATED,
    "deactivate": EventType.CONFIGURATION_DEACTIVATED,
    "reactivate": EventType.CONFIGURATION_REACTIVATED,
    "delete": EventType.CONFIGURATION_DELETED,
}


class ConfigurationEvent(models.Model):
    """One change, as the outbox holds it until the dispatcher has fanned it out (``dispatched_at``)."""

    id = models.BigAutoField(primary_key=True)
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    history_id = models.BigIntegerField(null=True, blank=True)
    category = models.CharField(max_length=50, null=True, blank=True)
    config_key = models.CharField(max_length=100, null=True, blank=True)
    environment = models.CharField(max_length=20, null=True, blank=True)
    subject = models.CharField(max_length=200, null=True, blank=True)  # a template's provider, a request's id
    endpoint = models.ForeignKey(  # a test event goes to this endpoint only
        "WebhookEndpoint", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "configuration_events"
        verbose_name = _("event")
        indexes = [
            models.Index(fields=["id"], name="idx_events_undispatched", condition=Q(dispatched_at__isnull=True)),
            models.Index(fields=["created_at"], name="idx_events_created"),
        ]
        constraints = [models.CheckConstraint(condition=in_choices("event_type", EventType), name="event_type_known")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event_type}"


class WebhookEndpoint(models.Model):
    """A receiver and what it subscribes to (an empty list: everything of that kind)."""

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=2000)
    environments = models.JSONField(default=list, blank=True, help_text=_("Empty: every environment"))
    categories = models.JSONField(default=list, blank=True, help_text=_("Empty: every category"))
    key_patterns = models.JSONField(
        default=list, blank=True, help_text=_("Shell-style patterns of keys, e.g. host or auth_*; empty: every key")
    )
    event_types = models.JSONField(default=list, blank=True, help_text=_("Empty: every event type"))
    is_active = models.BooleanField(default=True, help_text=_("Paused endpoints receive nothing"))
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now(), auto_now=True)

    history = recorded_history("configuration_webhook_endpoints_changes")

    class Meta:
        db_table = "configuration_webhook_endpoints"
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.name


class WebhookSecret(models.Model):
    """A signing secret of an endpoint, encrypted at rest. During a rotation the old one signs too until it expires."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    secret = models.TextField()  # an envelope of core.crypto, never the plaintext
    created_at = models.DateTimeField(db_default=Now())
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "configuration_webhook_secrets"
        verbose_name = _("webhook signing secret")

    def __str__(self) -> str:
        return f"signing secret #{self.pk} of {self.endpoint_id}"


class DeliveryState(models.TextChoices):
    """Where a delivery stands: waiting (first attempt or a retry), delivered (a 2xx), or dead (out of attempts)."""

    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    DEAD = "dead", _("dead")


class WebhookDelivery(models.Model):
    """One event for one endpoint: its body (fixed at fan-out, so every retry sends and signs the same bytes), its
    attempts and what the receiver answered."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(ConfigurationEvent, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40)
    order_key = models.CharField(max_length=200)  # deliveries of one key go out in order
    payload = models.TextField()
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_default=Now())
    claimed_until = models.DateTimeField(null=True, blank=True)  # a dispatcher is sending it until then
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_code = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "configuration_webhook_deliveries"
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="one_delivery_per_endpoint_event"),
            models.CheckConstraint(condition=in_choices("state", DeliveryState), name="delivery_state_known"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="idx_deliveries_due", condition=Q(state=DeliveryState.PENDING)
            ),
            models.Index(fields=["endpoint", "order_key", "id"], name="idx_deliveries_order"),
            models.Index(fields=["created_at"], name="idx_deliveries_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event_type} to {self.endpoint_id} ({self.state})"
