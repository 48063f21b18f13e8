"""api.changes.Changes: what changes/ answers, computed once per snapshot for every poll with the same scope."""

from __future__ import annotations

import pytest

from configurations import runtime, services
from configurations.api.changes import Changes
from configurations.services import tokens
from tests.factories import editor_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("development_runtime")]


@pytest.fixture
def scoped():
    owner = editor_of("development", username="scoped")
    everything = tokens.create_token(name="all", owner=owner, environments=["development"]).token
    smtp_only = tokens.create_token(name="smtp", owner=owner, environments=["development"], categories=["smtp"]).token
    services.set_value(category="smtp", key="host", environment="development", value="a")
    services.set_value(category="app", key="mode", environment="development", value="calm")
    return everything, smtp_only


def test_each_scope_sees_its_categories_and_polls_alike_share_one_answer(scoped):
    everything, smtp_only = scoped
    snapshot = runtime.current_snapshot("development")
    smtp, app = snapshot.category_versions["smtp"], snapshot.category_versions["app"]
    assert Changes(everything, "development", 0).versions(snapshot) == {"smtp": smtp, "app": app}
    assert Changes(smtp_only, "development", 0).versions(snapshot) == {"smtp": smtp}
    first, second = Changes(everything, "development", smtp), Changes(everything, "development", smtp)
    assert first.answer(snapshot) == (200, {"version": app, "changed": ["app"]})
    assert second.answer(snapshot)[1] is first.answer(snapshot)[1]  # computed once, shared
    assert Changes(smtp_only, "development", smtp).answer(snapshot) == (304, None)
    assert Changes(smtp_only, "development", smtp).changed(snapshot) is False
    assert Changes(smtp_only, "development", None).answer(snapshot) == (200, {"version": smtp, "changed": []})


def test_a_new_snapshot_is_answered_afresh(scoped):
    everything, _ = scoped
    before = runtime.current_snapshot("development")
    poll = Changes(everything, "development", before.version)
    assert poll.answer(before) == (304, None)
    services.set_value(category="smtp", key="host", environment="development", value="b")
    after = runtime.current_snapshot("development")
    assert poll.changed(after) and poll.answer(after) == (200, {"version": after.version, "changed": ["smtp"]})
