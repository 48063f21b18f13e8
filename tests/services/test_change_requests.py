"""services.change_requests: open, review and decide a request; approvals bound to the items; secrets hidden."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from configurations import services
from configurations.models import ChangeRequest, ChangeRequestItem, ConfigurationHistory, RequestState
from tests.factories import editor_of

pytestmark = pytest.mark.django_db
ENV = "production"


@pytest.fixture
def people():
    root = editor_of(username="root-user", is_superuser=True)
    services.set_policy(ENV, approvals=2, actor=root)
    return {name: editor_of(ENV, username=name) for name in ("alice", "bob", "carol")} | {"root": root}


def host(value: str) -> services.Change:
    return services.Change("smtp", "host", ENV, value)


def test_opening_a_request_changes_no_live_value_and_records_each_keys_base_version(people, history):
    services.set_policy(ENV, approvals=0, actor=people["root"])
    services.set_value(category="smtp", key="host", environment=ENV, value="old.example.com")
    services.set_policy(ENV, approvals=2, actor=people["root"])
    base = ConfigurationHistory.objects.filter(environment=ENV, config_key="host").latest("id").id
    history.mark()
    opened = services.open_request(ENV, [host("new.example.com"), services.Deletion("smtp", "port")],
                                   title="Move SMTP", actor=people["alice"])  # fmt: skip
    request = opened.request
    assert request.state == RequestState.IN_REVIEW and request.author == people["alice"]
    items = {i.config_key: i for i in request.items.all()}
    assert (items["host"].value, items["host"].base_version, items["port"].deletes) == ("new.example.com", base, True)
    assert history.rows() == []
    assert services.get_value(category="smtp", key="host", environment=ENV) == "old.example.com"


def test_items_are_validated_like_a_write_and_an_invalid_one_opens_nothing(people):
    with pytest.raises(ValidationError, match="port"):
        bad = services.Change("smtp", "port", ENV, "not a port")
        services.open_request(ENV, [bad], title="t", actor=people["alice"])
    with pytest.raises(ValidationError, match="title"):
        services.open_request(ENV, [host("x.example.com")], title=" ", actor=people["alice"])
    assert not ChangeRequest.objects.exists()


def test_a_secret_item_is_stored_encrypted(people):
    request = services.open_request(ENV, [services.Change("smtp", "auth_pass", ENV, "cr-secret-value-1")],
                                    title="Rotate", actor=people["alice"]).request  # fmt: skip
    item = request.items.get()
    assert item.is_encrypted and item.value.startswith("encrypted:") and "cr-secret-value-1" not in item.value


def test_the_author_may_not_approve_unless_the_policy_allows(people):
    request = services.open_request(ENV, [host("a.example.com")], title="t", actor=people["alice"]).request
    with pytest.raises(PermissionDenied, match="does not let an author approve"):
        services.approve(request, actor=people["alice"])
    services.set_policy(ENV, self_approval=True, actor=people["root"])
    services.approve(request, actor=people["alice"])
    assert services.change_requests.valid_approvals(request) == 1


def test_the_same_person_counts_once_and_enough_distinct_approvals_approve(people):
    request = services.open_request(ENV, [host("a.example.com")], title="t", actor=people["alice"]).request
    services.approve(request, actor=people["bob"])
    request = services.approve(request, actor=people["bob"])
    assert request.state == RequestState.IN_REVIEW
    request = services.approve(request, actor=people["carol"])
    assert request.state == RequestState.APPROVED


def test_an_approver_needs_the_environment_and_a_person(people):
    request = services.open_request(ENV, [host("a.example.com")], title="t", actor=people["alice"]).request
    with pytest.raises(PermissionDenied):
        services.approve(request, actor=editor_of("staging", username="stager"))
    with pytest.raises(PermissionDenied, match="needs a person"):
        services.approve(request, actor=None)


def test_editing_the_items_withdraws_every_approval(people):
    request = services.open_request(ENV, [host("a.example.com")], title="t", actor=people["alice"]).request
    for approver in ("bob", "carol"):
        request = services.approve(request, actor=people[approver])
    assert request.state == RequestState.APPROVED
    request = services.edit_items(request, [host("evil.example.com")], actor=people["alice"]).request
    request.refresh_from_db()
    assert request.state == RequestState.IN_REVIEW and services.change_requests.valid_approvals(request) == 0
    with pytest.raises(PermissionDenied, match="author"):
        services.edit_items(request, [host("b.example.com")], actor=people["bob"])


def test_reject_needs_a_reason_and_closes_the_request(people):
    request = services.open_request(ENV, [host("a.example.com")], title="t", actor=people["alice"]).request
    with pytest.raises(ValidationError, match="why"):
        services.reject(request, actor=people["bob"], reason="")
    request = services.reject(request, actor=people["bob"], reason="wrong host")
    assert (request.state, request.decided_by, request.decision_reason) == ("rejected", people["bob"], "wrong host")
    with pytest.raises(ValidationError, match="rejected"):
        services.approve(request, actor=people["carol"])


def test_only_the_author_or_a_superuser_cancels(people):
    request = services.open_request(ENV, [host("a.example.com")], title="t", actor=people["alice"]).request
    with pytest.raises(PermissionDenied):
        services.cancel(request, actor=people["bob"])
    assert services.cancel(request, actor=people["alice"]).state == RequestState.CANCELLED


def test_two_open_requests_on_one_key_warn(people):
    first = services.open_request(ENV, [host("a.example.com")], title="one", actor=people["alice"]).request
    second = services.open_request(ENV, [host("b.example.com")], title="two", actor=people["bob"])
    assert second.overlapping == [f"smtp.host [{ENV}] is also changed by open request #{first.pk}"]
    assert ChangeRequestItem.objects.count() == 2
