"""services.save_rule / delete_rules: metadata and templates change only for those who may edit every environment."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from configurations import services
from configurations.models import ConfigurationMetadata
from tests.factories import editor_of

pytestmark = pytest.mark.django_db
Record = ConfigurationMetadata.history.model


def test_a_saved_rule_is_recorded_with_its_actor_and_reason():
    actor = editor_of(username="everywhere")
    meta = ConfigurationMetadata(category="rules", config_key="k", display_name="K")
    services.save_rule(meta, reason="new rule", actor=actor)
    record = Record.objects.get(id=meta.pk)
    assert (record.history_type, record.history_user_id, record.history_change_reason) == ("+", actor.pk, "new rule")


def test_an_actor_without_every_environment_changes_nothing():
    actor = editor_of("development", username="dev-only")
    meta = ConfigurationMetadata(category="rules", config_key="k", display_name="K")
    with pytest.raises(PermissionDenied, match="change the rules of"):
        services.save_rule(meta, actor=actor)
    assert not ConfigurationMetadata.objects.filter(category="rules").exists()
    services.save_rule(meta)  # trusted code (no actor)
    with pytest.raises(PermissionDenied):
        services.delete_rules(ConfigurationMetadata.objects.filter(pk=meta.pk), actor=actor)
    assert ConfigurationMetadata.objects.filter(pk=meta.pk).exists()


def test_a_bulk_delete_records_each_row():
    for key in ("a", "b"):
        services.save_rule(ConfigurationMetadata(category="rules", config_key=key, display_name=key))
    assert services.delete_rules(ConfigurationMetadata.objects.filter(category="rules"), reason="retire") == 2
    assert list(
        Record.objects.filter(category="rules", history_type="-").values_list("history_change_reason", flat=True)
    ) == ["retire", "retire"]
