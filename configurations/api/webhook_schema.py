"""The webhooks section of the OpenAPI document: what a receiver gets (docs/webhooks.md), one entry per event
family. The body is the same for every event; ``data`` carries what the event type concerns."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema
from rest_framework import serializers

from ..data.models import EventType


class WebhookData(serializers.Serializer):
    """What the event concerns; configuration events carry the history id and category version to order and
    deduplicate by; a secret's value is never sent."""

    event_id = serializers.IntegerField(help_text="The outbox event's id (webhook-id is evt_<event_id>).")
    environment = serializers.CharField(allow_null=True)
    category = serializers.CharField(allow_null=True)
    key = serializers.CharField(required=False)
    history_id = serializers.IntegerField(required=False, help_text="The history row of the change.")
    category_version = serializers.IntegerField(
        required=False, help_text="The category's version after the change (as the API's ETag counts it)."
    )
    value_type = serializers.ChoiceField(choices=["string", "number", "boolean", "json"], required=False)
    secret = serializers.BooleanField(required=False, help_text="True: the value is secret and not sent.")
    value = serializers.JSONField(required=False, help_text="The new value, typed; absent for secrets and deletes.")
    changed_by = serializers.UUIDField(required=False)
    subject = serializers.CharField(required=False, help_text="A template's provider, a change request's id.")


class WebhookBody(serializers.Serializer):
    """The JSON body of every webhook (signed: webhook-id, webhook-timestamp, webhook-signature headers)."""

    type = serializers.ChoiceField(choices=EventType.values)
    timestamp = serializers.DateTimeField()
    version = serializers.IntegerField(help_text="The body's schema version, 1.")
    data = WebhookData()


def _webhook(name: str, summary: str) -> OpenApiWebhook:
    return OpenApiWebhook(
        name=name,
        decorator=extend_schema(
            summary=summary,
            description="Verify webhook-signature (Standard Webhooks, HMAC-SHA256) before trusting the body. "
            "Answer 2xx within the timeout; anything else is retried with backoff.",
            request=WebhookBody,
            responses={200: OpenApiResponse(description="Received"), 204: OpenApiResponse(description="Received")},
        ),
    )


configuration_changed = _webhook(
    "configurationChanged", "configuration.created, .updated, .deactivated, .reactivated or .deleted"
)
other_change = _webhook("otherChange", "metadata.changed, template.changed, change_request.applied, webhook.test")
