"""OFREP against a served gunicorn, evaluated by the unmodified OpenFeature SDK and its OFREP provider (the packages
``openfeature-sdk`` and ``openfeature-provider-ofrep``), on both databases."""

from __future__ import annotations

import pytest
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from configurations import services
from configurations.services import tokens
from tests.conftest import subprocess_env
from tests.factories import MetadataFactory, editor_of
from tests.servers import Gunicorn, get

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client():
    services.set_value(category="feature", key="beta", environment="staging", value="true", value_type="boolean")
    services.set_value(category="feature", key="limit", environment="staging", value="25", value_type="number")
    services.set_value(category="feature", key="banner", environment="staging", value="Hello")
    services.set_value(category="feature", key="layout", environment="staging", value='{"columns": 3}',
                       value_type="json")  # fmt: skip
    services.set_value(category="feature", key="api_token", environment="staging", value="served-secret-1")
    MetadataFactory(category="feature", config_key="dark_mode", input_type="checkbox", default_value="false")
    owner = editor_of("staging", "production", username="ofrep-owner")
    one = tokens.create_token(name="ofrep", owner=owner, environments=["staging"]).plaintext
    two = tokens.create_token(name="ofrep two", owner=owner, environments=["staging", "production"]).plaintext
    with Gunicorn(subprocess_env(CONFIG_ENVIRONMENT="staging"), workers=1, threads=2) as server:
        server.wait_until(lambda: get(server.url + "/readyz").status == 200, timeout=30, what="ready")

        def client_of(token: str, name: str):
            provider = OFREPProvider(server.url, headers_factory=lambda: {"Authorization": f"Bearer {token}"})
            api.set_provider_and_wait(provider, domain=name)
            return api.get_client(domain=name)

        yield client_of(one, "one"), client_of(two, "two"), client_of("cfg_not_a_token", "nobody")
    api.shutdown()


def test_typed_values_and_reasons_through_the_unmodified_provider(client):
    flags, _, _ = client
    assert flags.get_boolean_value("feature.beta", False) is True
    assert flags.get_integer_value("feature.limit", 0) == 25
    assert flags.get_string_value("feature.banner", "") == "Hello"
    assert flags.get_object_value("feature.layout", {}) == {"columns": 3}
    details = flags.get_boolean_details("feature.dark_mode", True)
    assert (details.value, details.reason, details.variant) == (False, Reason.DEFAULT, "default")
    details = flags.get_integer_details("feature.limit", 0)
    assert (details.reason, details.variant) == (Reason.STATIC, "stored")
    assert details.flag_metadata["categoryVersion"] > 0


def test_error_codes_through_the_unmodified_provider(client):
    flags, several, nobody = client
    missing = flags.get_boolean_details("feature.nope", True)
    assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    secret = flags.get_string_details("feature.api_token", "fallback")
    assert (secret.value, secret.error_code) == ("fallback", ErrorCode.FLAG_NOT_FOUND)
    mismatch = flags.get_boolean_details("feature.banner", False)
    assert (mismatch.value, mismatch.error_code) == (False, ErrorCode.TYPE_MISMATCH)
    unclear = several.get_integer_details("feature.limit", 0)
    assert (unclear.value, unclear.error_code) == (0, ErrorCode.INVALID_CONTEXT)
    chosen = several.get_integer_value("feature.limit", 0, EvaluationContext(attributes={"environment": "staging"}))
    assert chosen == 25
    refused = nobody.get_boolean_details("feature.beta", False)
    assert (refused.value, refused.error_code, refused.error_message) == (False, ErrorCode.GENERAL, "unauthorized")
