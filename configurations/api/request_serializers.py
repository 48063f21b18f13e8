"""The change-request shapes of the API (also its OpenAPI schema). Secrets in items are never shown."""

from __future__ import annotations

from rest_framework import serializers

from .. import services
from ..data.models import ChangeRequest


class RequestItemInSerializer(serializers.Serializer):
    """One item of a new request: a value for a key, or ``delete: true``."""

    category = serializers.CharField(max_length=50)
    key = serializers.CharField(max_length=100)
    value = serializers.JSONField(required=False, help_text="The new value (omit with delete)")
    delete = serializers.BooleanField(required=False, default=False, help_text="Deactivate the key instead")

    def validate(self, attrs):
        """A value or a deletion, not both, not neither."""
        if attrs["delete"] == ("value" in attrs):
            raise serializers.ValidationError("Give either a value or delete: true.")
        return attrs


class RequestInSerializer(serializers.Serializer):
    """A POST body: a title, why, when (optional) and the items."""

    title = serializers.CharField(max_length=200)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=10_000, default="")
    apply_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    items = RequestItemInSerializer(many=True, allow_empty=False, max_length=1000)


class DecisionSerializer(serializers.Serializer):
    """A reject body: why."""

    reason = serializers.CharField(max_length=10_000)


class RequestItemSerializer(serializers.Serializer):
    """An item as answered: a secret's value is null."""

    category = serializers.CharField()
    key = serializers.CharField()
    value = serializers.CharField(allow_null=True, help_text="null for a secret and for a deletion")
    secret = serializers.BooleanField()
    delete = serializers.BooleanField()
    base_version = serializers.IntegerField(help_text="The key's version the item was based on")


class RequestSerializer(serializers.Serializer):
    """A change request as answered."""

    id = serializers.IntegerField()
    environment = serializers.CharField()
    title = serializers.CharField()
    reason = serializers.CharField()
    state = serializers.CharField()
    author = serializers.CharField()
    approvals = serializers.IntegerField(help_text="Distinct approvals of the items as they are")
    required_approvals = serializers.IntegerField()
    apply_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    applied_at = serializers.DateTimeField(allow_null=True)
    conflicts = serializers.CharField()
    items = RequestItemSerializer(many=True)


def request_body(request: ChangeRequest) -> dict:
    """A request as the API answers it."""
    items = [
        {"category": i.category, "key": i.config_key, "value": None if i.is_encrypted or i.deletes else i.value,
         "secret": i.is_encrypted, "delete": i.deletes, "base_version": i.base_version}
        for i in request.items.order_by("category", "config_key")
    ]  # fmt: skip
    return {
        "id": request.pk, "environment": request.environment, "title": request.title, "reason": request.reason,
        "state": request.state, "author": request.author.get_username(),
        "approvals": services.change_requests.valid_approvals(request),
        "required_approvals": services.policy(request.environment).required_approvals,
        "apply_at": request.apply_at, "created_at": request.created_at, "applied_at": request.applied_at,
        "conflicts": request.conflicts, "items": items,
    }  # fmt: skip
