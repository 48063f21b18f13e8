"""api.change_requests: open, read, approve, reject and apply requests over HTTP; a protected PUT becomes one."""

from __future__ import annotations

import pytest

from configurations import runtime, services
from tests.api.test_views import assert_problem, call, make_token
from tests.factories import editor_of

pytestmark = pytest.mark.django_db
ENV = "production"
REQUESTS = f"/api/v1/environments/{ENV}/change-requests/"


@pytest.fixture(autouse=True)
def protected(settings):
    settings.CONFIG_ENVIRONMENT = ENV
    runtime.reset()
    root = editor_of(username="api-root", is_superuser=True)
    services.set_value(category="smtp", key="host", environment=ENV, value="old.example.com")
    services.set_policy(ENV, approvals=1, actor=root)
    yield
    runtime.reset()


@pytest.fixture
def alice():
    return make_token(editor_of(ENV, username="alice"), ENV, write=True, secrets=True)


@pytest.fixture
def bob():
    return make_token(editor_of(ENV, username="bob"), ENV, write=True)


def test_a_put_into_a_protected_environment_opens_a_request_202_with_location(client, alice):
    answer = call(client, "put", f"/api/v1/environments/{ENV}/categories/smtp/keys/host/", alice,
                  {"value": "new.example.com", "reason": "move"})  # fmt: skip
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert answer["Location"] == f"{REQUESTS}{body['id']}/" and body["state"] == "in_review"
    assert body["items"][0]["value"] == "new.example.com" and body["author"] == "alice"
    assert services.get_value(category="smtp", key="host", environment=ENV) == "old.example.com"


def test_open_approve_apply_over_http(client, alice, bob):
    answer = call(client, "post", REQUESTS, alice, {"title": "Move SMTP", "items": [
        {"category": "smtp", "key": "host", "value": "new.example.com"},
        {"category": "smtp", "key": "auth_pass", "value": "api-cr-secret-1"},
    ]})  # fmt: skip
    assert answer.status_code == 201, answer.content
    request_id = answer.json()["id"]
    shown = call(client, "get", f"{REQUESTS}{request_id}/", bob)
    assert "api-cr-secret-1" not in shown.content.decode()
    assert {i["key"]: i["secret"] for i in shown.json()["items"]} == {"auth_pass": True, "host": False}
    self_approval = call(client, "post", f"{REQUESTS}{request_id}/approve/", alice, {})
    assert_problem(self_approval, 403)
    approved = call(client, "post", f"{REQUESTS}{request_id}/approve/", bob, {})
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    applied = call(client, "post", f"{REQUESTS}{request_id}/apply/", bob, {})
    assert applied.json()["state"] == "applied"
    assert services.get_value(category="smtp", key="host", environment=ENV) == "new.example.com"
    assert_problem(call(client, "post", f"{REQUESTS}{request_id}/apply/", bob, {}), 409)


def test_reject_needs_a_reason_and_bad_items_are_422(client, alice, bob):
    bad = call(client, "post", REQUESTS, alice, {"title": "t", "items": [{"category": "smtp", "key": "port"}]})
    assert_problem(bad, 422)
    wrong = call(client, "post", REQUESTS, alice, {"title": "t", "items": [
        {"category": "smtp", "key": "port", "value": "not a port"}]})  # fmt: skip
    assert_problem(wrong, 422)
    opened = call(client, "post", REQUESTS, alice, {"title": "t", "items": [
        {"category": "smtp", "key": "host", "delete": True}]}).json()  # fmt: skip
    assert_problem(call(client, "post", f"{REQUESTS}{opened['id']}/reject/", bob, {}), 422)
    rejected = call(client, "post", f"{REQUESTS}{opened['id']}/reject/", bob, {"reason": "no"})
    assert rejected.json()["state"] == "rejected"


def test_tokens_without_secrets_or_write_access_or_scope_are_refused(client, bob):
    secret = {"title": "t", "items": [{"category": "smtp", "key": "auth_pass", "value": "x-secret-2"}]}
    assert_problem(call(client, "post", REQUESTS, bob, secret), 403)
    reader = make_token(editor_of(ENV, username="reader"), ENV)
    assert_problem(call(client, "post", REQUESTS, reader, {"title": "t", "items": [
        {"category": "smtp", "key": "host", "value": "r.example.com"}]}), 403)  # fmt: skip
    staging = make_token(editor_of("staging", username="stager"), "staging", write=True)
    assert_problem(call(client, "get", REQUESTS, staging), 403)
    assert call(client, "get", REQUESTS, reader).json() == []
