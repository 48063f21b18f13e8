"""admin.reviews: superusers set a policy (recorded with its reason); nobody else sees or changes one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from configurations import services
from configurations.models import ReviewPolicy
from tests.factories import editor_of

pytestmark = pytest.mark.django_db


def test_a_superuser_sets_a_policy_in_the_admin_and_the_reason_is_recorded(admin_client, admin_user):
    url = reverse("admin:configurations_reviewpolicy_add")
    form = {"environment": "production", "required_approvals": "2", "change_reason": "four eyes"}
    assert admin_client.post(url, form).status_code == 302
    assert services.policy("production").required_approvals == 2
    record = ReviewPolicy.history.model.objects.get(environment="production")
    assert (record.history_user_id, record.history_change_reason) == (admin_user.pk, "four eyes")


def test_staff_without_superuser_cannot_see_or_change_policies(client):
    client.force_login(editor_of(username="staffer"))
    assert client.get(reverse("admin:configurations_reviewpolicy_changelist")).status_code == 403
    add = reverse("admin:configurations_reviewpolicy_add")
    assert client.post(add, {"environment": "production", "required_approvals": "0"}).status_code == 403
    assert not ReviewPolicy.objects.exists()
