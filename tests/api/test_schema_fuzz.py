"""The API fuzzed from its own OpenAPI schema by schemathesis, with a valid token that may read, write and see
secrets: every operation, a bounded number of examples each, on both databases. No 500, and every response
(status, content type, headers, body) matches the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks

from config_site.wsgi import application
from configurations import runtime, services
from configurations.services import tokens
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
EXAMPLES = 60

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


@pytest.fixture
def in_process():
    """Requests go through the WSGI application in this process and transaction, as Django's test client does:
    without closing the test's database connection at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(settings, in_process):
    settings.CONFIG_API_MAX_WAIT = 0.05  # a long poll may not take a fuzz run's minutes
    settings.CONFIG_API_RATE = ""
    runtime.reset()
    owner = UserFactory(username="fuzzer", is_staff=True, is_superuser=True)
    for env in ("development", "production"):
        services.set_value(category="smtp", key="port", environment=env, value="587")
        services.set_value(category="smtp", key="auth_pass", environment=env, value="fuzz-secret-1")
        services.set_value(category="app", key="tree", environment=env, value={"a": 1}, value_type="json")
    created = tokens.create_token(
        name="fuzz", owner=owner, environments=["development", "staging", "production"], write=True, secrets=True
    )
    yield created.plaintext
    runtime.reset()


def test_the_schema_has_every_operation():
    operations = {(op.method.upper(), op.path) for op in (result.ok() for result in schema.get_all_operations())}
    assert len(operations) == 12, operations


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
def test_the_api_conforms_to_its_schema(case, token):
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    # Every check but two: the token is always valid (so "auth ignored" does not apply), and a value valid for
    # the schema may still break a key's rules (a port of "abc"): that 422 is the API working, not failing.
    case.validate_response(response, excluded_checks=[checks.ignored_auth, checks.positive_data_acceptance])
    assert response.status_code < 500
