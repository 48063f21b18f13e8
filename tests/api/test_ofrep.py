"""OFREP through Django's test client: values typed as stored, reasons, OFREP's error codes and statuses, the
token's scopes, the bulk evaluation's ETag."""

from __future__ import annotations

import itertools
import json

import pytest
from django.core.cache import cache

from configurations import runtime, services
from configurations.services import tokens
from tests.factories import MetadataFactory, editor_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def flags_world(settings):
    runtime.reset()
    for key, value, value_type in (
        ("beta", "true", "boolean"), ("limit", "25", "number"), ("ratio", "0.75", "number"),
        ("banner", "Hello", "string"), ("layout", '{"columns": 3, "dense": false}', "json"),
    ):  # fmt: skip
        services.set_value(category="feature", key=key, environment="staging", value=value, value_type=value_type)
    services.set_value(category="feature", key="api_token", environment="staging", value="ofrep-secret-1")
    services.set_value(category="smtp", key="port", environment="staging", value="587")
    MetadataFactory(category="feature", config_key="dark_mode", input_type="checkbox", default_value="false")
    yield
    runtime.reset()


_numbers = itertools.count()


def _token(environments=("staging",), categories=()) -> str:
    n = next(_numbers)
    owner = editor_of(*environments, username=f"ofrep-{n}")
    return tokens.create_token(name=f"ofrep {n}", owner=owner, environments=environments,
                               categories=categories).plaintext  # fmt: skip


def _post(client, path, token, body=None, **headers):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    extra |= {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return client.post(path, json.dumps(body if body is not None else {}), content_type="application/json", **extra)


@pytest.mark.parametrize(
    ("flag", "value", "reason"),
    [
        ("feature.beta", True, "STATIC"), ("feature.limit", 25, "STATIC"), ("feature.ratio", 0.75, "STATIC"),
        ("feature.banner", "Hello", "STATIC"), ("feature.layout", {"columns": 3, "dense": False}, "STATIC"),
        ("feature.dark_mode", False, "DEFAULT"),
    ],
)  # fmt: skip
def test_a_flag_answers_its_typed_value_and_reason(client, flag, value, reason):
    answer = _post(client, f"/ofrep/v1/evaluate/flags/{flag}", _token())
    assert answer.status_code == 200
    body = answer.json()
    assert (body["key"], body["value"], body["reason"]) == (flag, value, reason)
    assert type(body["value"]) is type(value)
    assert body["variant"] == ("default" if reason == "DEFAULT" else "stored")


@pytest.mark.parametrize("flag", ["feature.nope", "nodot", "feature.api_token", "smtp.port"])
def test_unknown_keys_secrets_and_keys_outside_the_tokens_categories_are_not_found(client, flag):
    answer = _post(client, f"/ofrep/v1/evaluate/flags/{flag}", _token(categories=("feature",)))
    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "FLAG_NOT_FOUND" and answer.json()["key"] == flag
    assert "ofrep-secret-1" not in answer.content.decode()


def test_a_token_of_several_environments_takes_one_from_the_context(client):
    token = _token(environments=("staging", "production"))
    answer = _post(client, "/ofrep/v1/evaluate/flags/feature.limit", token)
    assert answer.status_code == 400 and answer.json()["errorCode"] == "INVALID_CONTEXT"
    answer = _post(client, "/ofrep/v1/evaluate/flags/feature.limit", token, {"context": {"environment": "staging"}})
    assert answer.json()["value"] == 25
    answer = _post(client, "/ofrep/v1/evaluate/flags/feature.limit", token, {"context": {"environment": "test"}})
    assert answer.status_code == 400 and answer.json()["errorCode"] == "INVALID_CONTEXT"


def test_authentication_and_malformed_bodies(client):
    assert _post(client, "/ofrep/v1/evaluate/flags/feature.beta", None).status_code == 401
    assert _post(client, "/ofrep/v1/evaluate/flags/feature.beta", "cfg_wrong").status_code == 401
    answer = client.post("/ofrep/v1/evaluate/flags/feature.beta", "{not json", content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {_token()}")  # fmt: skip
    assert answer.status_code == 400 and answer.json()["errorCode"] == "PARSE_ERROR"
    answer = _post(client, "/ofrep/v1/evaluate/flags/feature.beta", _token(), {"context": [1]})
    assert answer.status_code == 400 and answer.json()["errorCode"] == "INVALID_CONTEXT"


def test_the_rate_limit_answers_429_with_retry_after(client, settings):
    settings.CONFIG_API_RATE = "2/min"
    cache.clear()  # the throttle's counts of earlier tests' tokens
    token = _token()
    answers = [_post(client, "/ofrep/v1/evaluate/flags/feature.beta", token) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[-1]["Retry-After"]) > 0


def test_the_bulk_evaluation_leaves_secrets_out_and_revalidates_with_its_etag(client):
    token = _token()
    answer = _post(client, "/ofrep/v1/evaluate/flags", token)
    keys = [flag["key"] for flag in answer.json()["flags"]]
    assert "feature.api_token" not in keys and {"feature.beta", "feature.dark_mode", "smtp.port"} <= set(keys)
    etag = answer["ETag"]
    assert _post(client, "/ofrep/v1/evaluate/flags", token, **{"If-None-Match": etag}).status_code == 304
    services.set_value(category="feature", key="limit", environment="staging", value="26")
    answer = _post(client, "/ofrep/v1/evaluate/flags", token, **{"If-None-Match": etag})
    assert answer.status_code == 200 and answer["ETag"] != etag
    assert {f["key"]: f["value"] for f in answer.json()["flags"]}["feature.limit"] == 26


def test_the_configuration_endpoint(client):
    answer = client.get("/ofrep/v1/configuration", HTTP_AUTHORIZATION=f"Bearer {_token()}")
    assert answer.json()["capabilities"]["cacheInvalidation"]["polling"]["enabled"] is True
