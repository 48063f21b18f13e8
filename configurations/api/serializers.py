"""The API's request and response shapes (they are also its OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers


class CategoryValuesSerializer(serializers.Serializer):
    """A category's values in an environment, as the category GET answers them."""

    environment = serializers.CharField()
    category = serializers.CharField()
    version = serializers.IntegerField(help_text="The category's newest history id: it grows with every change")
    values = serializers.DictField(
        child=serializers.JSONField(),
        help_text="key -> typed value (JSON number, boolean, string, or the JSON value); secrets are null unless "
        "the token has `secrets`",
    )
    sources = serializers.DictField(
        child=serializers.ChoiceField(choices=["stored", "default"]),
        help_text='key -> where its value comes from: "stored" (a value was set) or "default" (the metadata\'s '
        "default, while no value is set)",
    )
    secret_keys = serializers.ListField(child=serializers.CharField())


class ConfigurationsSerializer(serializers.Serializer):
    """Every category the token may read in an environment."""

    environment = serializers.CharField()
    version = serializers.IntegerField(help_text="The newest version of the categories in the token's scope")
    categories = serializers.DictField(child=CategoryValuesSerializer(), help_text="category -> its values")


class ChangesSerializer(serializers.Serializer):
    """What changed since a version: the new version and the changed categories."""

    version = serializers.IntegerField()
    changed = serializers.ListField(child=serializers.CharField(), help_text="Categories changed after `since`")


class ChangesQuerySerializer(serializers.Serializer):
    """The changes/ query: since (a version) and wait (seconds, at most 60)."""

    since = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1)
    wait = serializers.FloatField(required=False, min_value=0, max_value=60, default=30)


class KeyWriteSerializer(serializers.Serializer):
    """A PUT body: the value and an optional reason."""

    value = serializers.JSONField(help_text="The new value: a string, or a JSON number, boolean or value")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, help_text="Why (audited)")


class KeyValueSerializer(serializers.Serializer):
    """One key's value and type, as the key GET and PUT answer them."""

    environment = serializers.CharField()
    category = serializers.CharField()
    key = serializers.CharField()
    value = serializers.JSONField(help_text="null for a secret: a write never echoes one")
    version = serializers.IntegerField(help_text="The category's version after the write")
    changed = serializers.BooleanField(help_text="False when the value was already that (nothing written)")


class KeyReadSerializer(serializers.Serializer):
    """One key as the key GET answers it: its typed value and where it comes from."""

    environment = serializers.CharField()
    category = serializers.CharField()
    key = serializers.CharField()
    value = serializers.JSONField(help_text="null for a secret unless the token has `secrets`")
    secret = serializers.BooleanField()
    source = serializers.ChoiceField(
        choices=["stored", "default"], help_text="stored, or default: the metadata's default, while no value is set"
    )
    version = serializers.IntegerField(help_text="The category's version")


class HistoryEntrySerializer(serializers.Serializer):
    """One history entry of a key, secrets as markers."""

    id = serializers.IntegerField()
    action = serializers.CharField()
    change = serializers.CharField(
        help_text="What happened, one word for secrets and plain keys: created, changed, deactivated, reactivated, "
        "deleted, rolled back"
    )
    rolled_back_to = serializers.IntegerField(allow_null=True, help_text="A rollback: the entry it restored")
    change_request = serializers.IntegerField(allow_null=True, help_text="The change request whose apply wrote it")
    is_secret = serializers.BooleanField()
    old_value = serializers.CharField(allow_null=True, help_text="null for secrets; at most 4,000 characters")
    new_value = serializers.CharField(allow_null=True, help_text="null for secrets; at most 4,000 characters")
    changed_by = serializers.CharField(allow_null=True)
    change_reason = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class HistoryPageSerializer(serializers.Serializer):
    """A page of a key's history and the cursor of the next."""

    results = HistoryEntrySerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="Pass as `before` for the next (older) page")


class HistoryQuerySerializer(serializers.Serializer):
    """The history query: a page size and a cursor."""

    before = serializers.CharField(required=False, min_length=1, max_length=100)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=50)
