"""Webhooks in the admin through Django's test client: superusers only, the secret shown once, errors by field,
the delivery log, "send test event" and replay."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from configurations import services
from configurations.models import ConfigurationEvent, WebhookDelivery, WebhookEndpoint
from configurations.services import webhooks

pytestmark = pytest.mark.django_db
ADD = reverse("admin:configurations_webhookendpoint_add")


def _form(url: str, **extra) -> dict:
    return {
        "name": "ops", "url": url, "environments": ["production"], "categories": "smtp, feature",
        "key_patterns": "", "is_active": "on", "description": "", "reason": "alerts for ops",
        "deliveries-TOTAL_FORMS": "0", "deliveries-INITIAL_FORMS": "0", **extra,
    }  # fmt: skip


def test_a_superuser_creates_an_endpoint_and_sees_its_secret_once(admin_client, receiver, admin_user):
    response = admin_client.post(ADD, _form(receiver.url))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    secret = response.context["secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    endpoint = WebhookEndpoint.objects.get(name="ops")
    assert endpoint.categories == ["smtp", "feature"]
    assert endpoint.history.get().history_change_reason == "alerts for ops"
    page = admin_client.get(reverse("admin:configurations_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200 and secret not in page.content.decode()
    assert webhooks.live_secrets(endpoint.pk) == [secret]


def test_an_unsafe_url_is_refused_on_the_form_by_field(admin_client, settings):
    response = admin_client.post(ADD, _form("https://169.254.169.254/latest/"))
    assert response.status_code == 200
    assert "link-local" in " ".join(response.context["adminform"].form.errors["url"])
    assert not WebhookEndpoint.objects.exists()


def test_staff_without_superuser_cannot_reach_any_webhook_page(staff_client, endpoint):
    client = staff_client("view_webhookendpoint", "change_webhookendpoint", "view_webhookdelivery")
    change = reverse("admin:configurations_webhookendpoint_change", args=[endpoint.pk])
    for url in (ADD, change, reverse("admin:configurations_webhookendpoint_changelist"),
                reverse("admin:configurations_webhookdelivery_changelist")):  # fmt: skip
        assert client.get(url).status_code == 403
    assert client.post(reverse("admin:configurations_webhookendpoint_test", args=[endpoint.pk])).status_code == 403
    assert not ConfigurationEvent.objects.filter(event_type="webhook.test").exists()


def test_send_test_event_and_the_delivery_log(admin_client, endpoint, receiver):
    response = admin_client.post(reverse("admin:configurations_webhookendpoint_test", args=[endpoint.pk]))
    assert response.status_code == 302
    webhooks.deliver_due()
    assert receiver.documents()[0]["type"] == "webhook.test"
    page = admin_client.get(reverse("admin:configurations_webhookendpoint_change", args=[endpoint.pk]))
    assert "webhook.test" in page.content.decode() and "delivered" in page.content.decode()


def test_dead_deliveries_are_replayed_from_the_admin(admin_client, endpoint, receiver, settings):
    settings.CONFIG_WEBHOOK_MAX_ATTEMPTS = 1
    receiver.status = 500
    services.set_value(category="smtp", key="port", environment="production", value="25", reason="t")
    webhooks.deliver_due()
    dead = WebhookDelivery.objects.get(state="dead")
    response = admin_client.post(
        reverse("admin:configurations_webhookdelivery_changelist"),
        {"action": "replay", ACTION_CHECKBOX_NAME: [dead.pk]},
    )
    assert response.status_code == 302
    receiver.status = 200
    assert webhooks.deliver_due().delivered == 1


def test_removing_an_endpoint_in_the_admin_is_recorded(admin_client, endpoint):
    delete = reverse("admin:configurations_webhookendpoint_delete", args=[endpoint.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert WebhookEndpoint.history.filter(history_type="-").count() == 1


def test_the_endpoint_list_counts_without_a_query_per_row_and_a_page_shows_the_latest_deliveries(
    admin_client, receiver, django_assert_max_num_queries, settings
):
    from configurations.admin.webhooks import LOG_SIZE

    settings.CONFIG_WEBHOOK_MAX_ATTEMPTS = 1
    receiver.status = 500
    hooks = [webhooks.add_endpoint(f"hooks-{n}", receiver.url)[0] for n in range(5)]
    for n in range(LOG_SIZE + 5):
        services.set_value(category="feature", key="flag", environment="staging", value=str(n), reason="t")
    webhooks.deliver_due()
    changelist = reverse("admin:configurations_webhookendpoint_changelist")
    with django_assert_max_num_queries(9):
        page = admin_client.get(changelist)
    counts = {e.name: (e.dead_count, e.pending_count) for e in page.context["cl"].result_list}
    assert counts == {f"hooks-{n}": (LOG_SIZE + 5, 0) for n in range(5)}  # one attempt each, all dead
    page = admin_client.get(reverse("admin:configurations_webhookendpoint_change", args=[hooks[0].pk]))
    shown = page.context["inline_admin_formsets"][0].formset.queryset
    assert len(shown) == LOG_SIZE and shown[0].pk == hooks[0].deliveries.order_by("-id").first().pk
