"""change_request and apply_change_requests: the operators' commands, with the services' rules."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from configurations import services
from configurations.core.vocabulary import SECRET_MASK
from tests.factories import editor_of

pytestmark = pytest.mark.django_db
ENV = "production"


@pytest.fixture
def request_open():
    root = editor_of(username="cmd-root", is_superuser=True)
    services.set_policy(ENV, approvals=1, actor=root)
    editor_of(ENV, username="bob")
    alice = editor_of(ENV, username="alice")
    items = [services.Change("smtp", "host", ENV, "cmd.example.com"),
             services.Change("smtp", "auth_pass", ENV, "cmd-secret-value-1")]  # fmt: skip
    return services.open_request(ENV, items, title="Move", actor=alice).request


def run(*args) -> str:
    out = StringIO()
    call_command("change_request", *args, stdout=out)
    return out.getvalue()


def test_list_show_approve_apply(request_open):
    assert f"#{request_open.pk}\tproduction\tin_review\talice\tMove" in run("list")
    shown = run("show", str(request_open.pk))
    assert f"smtp.auth_pass -> {SECRET_MASK}" in shown and "cmd-secret-value-1" not in shown
    with pytest.raises(CommandError, match="does not let an author approve"):
        run("approve", str(request_open.pk), "--actor", "alice")
    assert "approved" in run("approve", str(request_open.pk), "--actor", "bob")
    assert "applied" in run("apply", str(request_open.pk), "--actor", "bob")
    assert services.get_value(category="smtp", key="host", environment=ENV) == "cmd.example.com"


def test_reject_needs_a_reason_and_an_unknown_id_is_one_clear_line(request_open):
    with pytest.raises(CommandError, match="why"):
        run("reject", str(request_open.pk), "--actor", "bob")
    assert "rejected" in run("reject", str(request_open.pk), "--actor", "bob", "--reason", "no")
    with pytest.raises(CommandError, match="No change request #999"):
        run("show", "999")


def test_apply_change_requests_applies_what_is_due(request_open):
    services.approve(request_open, actor=editor_of(ENV, username="carol"))
    request_open.apply_at = timezone.now() - datetime.timedelta(seconds=1)
    request_open.save(update_fields=["apply_at"])
    out = StringIO()
    call_command("apply_change_requests", stdout=out)
    assert f"#{request_open.pk} Move: applied" in out.getvalue()
