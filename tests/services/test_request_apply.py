"""services.apply_request: all or nothing, never over a change made meanwhile, one history row per item."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from configurations import services
from configurations.core import crypto
from configurations.models import RequestState, SystemConfiguration
from tests.factories import editor_of

pytestmark = pytest.mark.django_db
ENV = "production"


@pytest.fixture
def people():
    root = editor_of(username="root-user", is_superuser=True)
    services.set_value(category="smtp", key="host", environment=ENV, value="old.example.com")
    services.set_value(category="smtp", key="port", environment=ENV, value="25")
    services.set_policy(ENV, approvals=2, actor=root)
    return {name: editor_of(ENV, username=name) for name in ("alice", "bob", "carol")}


def approved(people, items, **options):
    request = services.open_request(ENV, items, title="Move SMTP", actor=people["alice"], **options).request
    services.approve(request, actor=people["bob"])
    return services.approve(request, actor=people["carol"])


def live(key: str):
    return services.get_value(category="smtp", key=key, environment=ENV)


def test_an_applied_request_writes_each_item_once_naming_the_request_author_and_approvers(people, history):
    request = approved(people, [services.Change("smtp", "host", ENV, "new.example.com"),
                                services.Change("smtp", "auth_pass", ENV, "applied-secret-1"),
                                services.Deletion("smtp", "port")])  # fmt: skip
    history.mark()
    request = services.apply_request(request)
    assert request.state == RequestState.APPLIED and request.applied_at is not None
    assert live("host") == "new.example.com" and live("auth_pass") == "applied-secret-1"
    assert not SystemConfiguration.objects.get(category="smtp", config_key="port", environment=ENV).is_active
    rows = history.rows()
    assert sorted(r.config_key for r in rows) == ["auth_pass", "host", "port"]
    reason = f"Change request #{request.pk} by alice, approved by bob, carol: Move SMTP"
    assert {(r.change_reason, r.changed_by_id) for r in rows} == {(reason, people["alice"].pk)}
    assert all("applied-secret-1" not in (r.new_value or "") for r in rows)
    assert services.verify_history().ok


def test_a_key_changed_meanwhile_conflicts_the_request_and_nothing_is_applied(people, history):
    request = approved(people, [services.Change("smtp", "host", ENV, "new.example.com"),
                                services.Change("smtp", "port", ENV, "587")])  # fmt: skip
    services.set_policy(ENV, approvals=0, actor=editor_of(username="root2", is_superuser=True))
    services.set_value(category="smtp", key="port", environment=ENV, value="2525")  # meanwhile
    services.set_policy(ENV, approvals=2, actor=editor_of(username="root3", is_superuser=True))
    history.mark()
    request = services.apply_request(request)
    assert request.state == RequestState.CONFLICTED and "smtp.port [production] changed since" in request.conflicts
    assert history.rows() == [] and live("host") == "old.example.com" and live("port") == 2525


def test_only_an_approved_request_applies(people):
    request = services.open_request(ENV, [services.Change("smtp", "host", ENV, "x.example.com")], title="t",
                                    actor=people["alice"]).request  # fmt: skip
    with pytest.raises(ValidationError, match="only an approved one applies"):
        services.apply_request(request)
    assert live("host") == "old.example.com"


def test_a_scheduled_request_waits_for_its_time_then_apply_change_requests_applies_it(people):
    later = timezone.now() + datetime.timedelta(hours=1)
    request = approved(people, [services.Change("smtp", "host", ENV, "later.example.com")], apply_at=later)
    with pytest.raises(ValidationError, match="scheduled"):
        services.apply_request(request)
    assert services.apply_due() == [] and live("host") == "old.example.com"
    [done] = services.apply_due(now=later + datetime.timedelta(seconds=1))
    assert done.state == RequestState.APPLIED and live("host") == "later.example.com"


def test_a_due_request_that_can_no_longer_apply_becomes_conflicted_never_half_applied(people):
    later = timezone.now() + datetime.timedelta(minutes=5)
    request = approved(people, [services.Change("smtp", "host", ENV, "a.example.com"),
                                services.Change("smtp", "port", ENV, "587")], apply_at=later)  # fmt: skip
    request.items.filter(config_key="port").update(value="not a port")  # the rules changed, say
    [done] = services.apply_due(now=later)
    assert done.state == RequestState.CONFLICTED and live("host") == "old.example.com" and live("port") == 25


def test_a_secret_item_is_never_readable_from_the_request(people):
    request = approved(people, [services.Change("smtp", "auth_pass", ENV, "never-shown-secret-1")])
    item = request.items.get()
    assert crypto.is_envelope(item.value) and "never-shown-secret-1" not in str(list(request.items.values()))
