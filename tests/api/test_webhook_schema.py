"""The OpenAPI document's webhooks section describes exactly the bodies the dispatcher sends."""

from __future__ import annotations

import json

import pytest

from configurations import services
from configurations.models import WebhookDelivery
from configurations.services import webhooks

pytestmark = pytest.mark.django_db


def _schema(client) -> dict:
    answer = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert answer.status_code == 200
    return json.loads(answer.content)


def test_the_schema_has_a_webhooks_section_whose_body_matches_what_is_sent(client, endpoint):
    schema = _schema(client)
    assert schema["openapi"].startswith("3.1")
    assert set(schema["webhooks"]) == {"configurationChanged", "otherChange"}
    body_ref = schema["webhooks"]["configurationChanged"]["post"]["requestBody"]["content"]["application/json"]
    body = schema["components"]["schemas"][body_ref["schema"]["$ref"].rsplit("/", 1)[1]]
    data = schema["components"]["schemas"]["WebhookData"]
    services.set_value(category="smtp", key="port", environment="development", value="25", reason="t")
    webhooks.fan_out()
    sent = json.loads(WebhookDelivery.objects.get().payload)
    assert set(sent) == set(body["properties"])
    assert set(sent["data"]) <= set(data["properties"])
    assert sent["type"] in body["properties"]["type"]["enum"]
