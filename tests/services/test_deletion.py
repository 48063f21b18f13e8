"""services.delete_configurations: hard deletes, permission-checked as a whole, recorded with who and why."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from configurations import services
from configurations.models import SystemConfiguration
from tests.factories import editor_of

pytestmark = pytest.mark.django_db


def test_deleted_rows_leave_a_delete_history_row_with_the_actor_and_reason(history):
    actor = editor_of("test", username="deleter")
    row = services.set_value(category="app", key="gone", environment="test", value="1")
    history.mark()
    assert services.delete_configurations([row.pk], reason="cleanup", actor=actor) == 1
    assert not SystemConfiguration.objects.filter(pk=row.pk).exists()
    [entry] = history.rows()
    assert (entry.action, entry.changed_by_id, entry.change_reason) == ("delete", actor.pk, "cleanup")


def test_one_environment_the_actor_may_not_edit_refuses_the_whole_delete(history):
    actor = editor_of("test", username="test-only")
    mine = services.set_value(category="app", key="k", environment="test", value="1")
    theirs = services.set_value(category="app", key="k", environment="production", value="1")
    history.mark()
    with pytest.raises(PermissionDenied, match="production"):
        services.delete_configurations([mine.pk, theirs.pk], reason="both", actor=actor)
    assert SystemConfiguration.objects.filter(pk__in=[mine.pk, theirs.pk]).count() == 2
    assert history.rows() == []
