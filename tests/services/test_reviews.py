"""services.reviews: the policy per environment, audited, and the gate that refuses direct writes while it is on."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command

from configurations import services
from configurations.models import ReviewPolicy, SystemConfiguration
from configurations.services.reviews import BYPASS_MARK
from tests.factories import editor_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def root():
    return editor_of(username="root-user", is_superuser=True)


def test_no_policy_means_no_review():
    assert services.policy("production").required_approvals == 0
    services.set_value(category="smtp", key="host", environment="production", value="a.example.com")


def test_only_a_superuser_sets_a_policy_and_each_change_is_recorded(root):
    with pytest.raises(PermissionDenied):
        services.set_policy("production", approvals=2, actor=editor_of(username="staff-only"))
    services.set_policy("production", approvals=2, actor=root, reason="SOC 2")
    services.set_policy("production", self_approval=True, actor=root)
    records = list(ReviewPolicy.history.model.objects.filter(environment="production").order_by("history_id"))
    assert [(r.required_approvals, r.allow_self_approval, r.history_change_reason) for r in records] == [
        (2, False, "SOC 2"), (2, True, "Review policy of production"),
    ]  # fmt: skip
    assert all(r.history_user_id == root.pk for r in records)
    assert services.verify_history().ok


def test_approvals_are_bounded(root):
    for wrong in (-1, 11):
        with pytest.raises(ValidationError, match="Between 0"):
            services.set_policy("staging", approvals=wrong, actor=root)
    assert not ReviewPolicy.objects.exists()


def test_a_protected_environment_refuses_every_service_write_and_names_the_policy(root, history):
    row = services.set_value(category="smtp", key="host", environment="production", value="a.example.com")
    services.set_policy("production", approvals=1, actor=root)
    history.mark()
    writes = [
        lambda: services.set_value(category="smtp", key="host", environment="production", value="b.example.com"),
        lambda: services.apply_changes([services.Change("smtp", "port", "production", "25")]),
        lambda: services.deactivate(category="smtp", key="host", environment="production"),
        lambda: services.delete_configurations([row.pk], reason="x"),
        lambda: services.copy_values(category="smtp", source="staging", target="production", keys=["host"]),
    ]
    services.set_value(category="smtp", key="host", environment="staging", value="s.example.com")
    history.mark()
    for write in writes:
        with pytest.raises(services.ReviewRequired, match="production needs 1 approval"):
            write()
    assert history.rows() == []
    assert SystemConfiguration.objects.get(pk=row.pk).config_value == "a.example.com"
    services.set_value(category="smtp", key="host", environment="staging", value="t.example.com")  # not protected


def test_a_user_with_the_bypass_permission_writes_with_a_reason_and_history_says_so(root, history):
    services.set_policy("production", approvals=2, actor=root)
    user = editor_of("production", username="oncall")
    user.user_permissions.add(Permission.objects.get(codename="bypass_review_production"))
    user = type(user).objects.get(pk=user.pk)
    write = {"category": "smtp", "key": "host", "environment": "production", "value": "x.example.com", "actor": user}
    with pytest.raises(services.ReviewRequired, match="ask to bypass"):
        services.set_value(**write, reason="outage")  # the permission alone is no bypass: it must be asked for
    with services.bypassing(), pytest.raises(services.ReviewRequired, match="a bypass needs a reason"):
        services.set_value(**write)
    history.mark()
    with services.bypassing():
        services.set_value(**write, reason="outage")
    [entry] = history.rows()
    assert entry.change_reason == f"{BYPASS_MARK} outage" and entry.changed_by_id == user.pk


def test_asking_to_bypass_without_the_permission_changes_nothing(root, history):
    services.set_policy("production", approvals=1, actor=root)
    user = editor_of("production", username="plain-editor")
    history.mark()
    with services.bypassing(), pytest.raises(services.ReviewRequired, match="production needs 1 approval"):
        services.set_value(category="smtp", key="host", environment="production", value="x", actor=user, reason="r")
    assert history.rows() == []
    assert services.needs_request("production", actor=user, bypass=True)
    assert not services.needs_request("staging", actor=user)


def test_change_policy_prints_and_sets_the_policy(root):
    out = StringIO()
    call_command("change_policy", "production", stdout=out)
    assert "production: no review" in out.getvalue()
    with pytest.raises(CommandError, match="needs --actor"):
        call_command("change_policy", "production", "--approvals", "2", stdout=StringIO())
    with pytest.raises(CommandError, match="Between 0"):
        call_command("change_policy", "production", "--approvals", "12", "--actor", root.username, stdout=StringIO())
    out = StringIO()
    call_command("change_policy", "production", "--approvals", "2", "--self-approval", "--actor", root.username,
                 stdout=out)  # fmt: skip
    assert "2 approval(s) needed; self-approval allowed" in out.getvalue()
    assert services.policy("production").required_approvals == 2
