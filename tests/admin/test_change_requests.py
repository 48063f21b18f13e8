"""admin.change_requests and admin.review_gate: saving into a protected environment opens a request; its review
page shows the diff and only the buttons a user may use; approve, reject, apply and cancel go through the services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from configurations import services
from configurations.models import (
    ChangeRequest,
    ConfigurationHistory,
    ConfigurationMetadata,
    RequestState,
    SystemConfiguration,
)
from configurations.services.reviews import BYPASS_MARK
from tests.admin.test_editor import edit_url, post_data
from tests.factories import editor_of

pytestmark = pytest.mark.django_db
ENV = "production"
SECRET = "prod-secret-value-42"


@pytest.fixture
def protected(admin_user):
    services.set_value(category="smtp", key="host", environment=ENV, value="old.example.com")
    services.set_value(category="smtp", key="auth_pass", environment=ENV, value="old-secret-value")
    services.set_policy(ENV, approvals=2, actor=admin_user)
    return {name: editor_of(ENV, username=name) for name in ("alice", "bob", "carol")}


def live(key: str):
    return services.get_value(category="smtp", key=key, environment=ENV)


def review_url(request_id: int) -> str:
    return reverse("admin:configurations_changerequest_change", args=[request_id])


def decide(client, request_id: int, action: str, reason: str = ""):
    url = reverse("admin:configurations_changerequest_decide", args=[request_id])
    return client.post(url, {"action": action, "reason": reason})


def open_from_editor(client, user, **values):
    client.force_login(user)
    data = post_data(client, edit_url(), **values)
    data["request_title"] = "Move SMTP"
    return client.post(edit_url(), data)


def test_the_editor_says_the_environment_is_protected_and_a_save_opens_a_request(client, protected, history):
    client.force_login(protected["alice"])
    page = client.get(edit_url()).content.decode()
    assert "saving opens a change request that needs 2 approvals" in page
    assert "Save as change request" in page and "bypass_review" not in page  # alice may not bypass
    history.mark()
    response = open_from_editor(client, protected["alice"], host="new.example.com", auth_pass=SECRET)
    request = ChangeRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == review_url(request.pk)
    assert (request.title, request.state, request.author) == ("Move SMTP", RequestState.IN_REVIEW, protected["alice"])
    assert history.rows() == [] and live("host") == "old.example.com" and live("auth_pass") == "old-secret-value"
    page = client.get(response["Location"])
    html = page.content.decode()
    assert "Nothing is live yet: change request #" in html
    assert "old.example.com" in html and "new.example.com" in html
    assert "secret changed" in html and SECRET not in html and "old-secret-value" not in html
    assert page.context["allowed"] == {"cancel", "reject"}  # the author may not approve her own request


def test_a_second_person_approves_the_third_applies_and_the_history_links_the_request(
    client, admin_user, protected, history
):
    open_from_editor(client, protected["alice"], host="new.example.com")
    request = ChangeRequest.objects.get()
    client.force_login(protected["bob"])
    assert "approve" in client.get(review_url(request.pk)).context["allowed"]
    decide(client, request.pk, "approve")
    assert "approve" not in client.get(review_url(request.pk)).context["allowed"]  # one person counts once
    decide(client, request.pk, "approve")
    assert services.change_requests.valid_approvals(request) == 1
    client.force_login(protected["carol"])
    decide(client, request.pk, "approve")
    page = client.get(review_url(request.pk))
    assert page.context["allowed"] >= {"apply", "reject"}
    history.mark()
    decide(client, request.pk, "apply")
    assert live("host") == "new.example.com"
    [entry] = history.rows()
    assert entry.change_reason == f"Change request #{request.pk} by alice, approved by bob, carol: Move SMTP"
    listing = client.get(reverse("admin:configurations_history") + f"?config={entry.config_id}").content.decode()
    assert f'href="{review_url(request.pk)}"' in listing
    applied = client.get(review_url(request.pk))
    assert applied.context["allowed"] == set()
    assert [d.old for d in applied.context["diffs"]] == ["old.example.com"]  # what the apply replaced
    client.force_login(admin_user)
    entry_page = client.get(reverse("admin:configurations_configurationhistory_change", args=[entry.pk]))
    assert f"change request #{request.pk}" in entry_page.content.decode()


def test_a_request_whose_key_moved_conflicts_on_apply_and_the_page_says_what_changed(client, protected, admin_user):
    open_from_editor(client, protected["alice"], host="new.example.com")
    request = ChangeRequest.objects.get()
    for name in ("bob", "carol"):
        services.approve(request, actor=protected[name])
    bypasser = protected["carol"]
    bypasser.user_permissions.add(Permission.objects.get(codename=f"bypass_review_{ENV}"))
    bypasser = type(bypasser).objects.get(pk=bypasser.pk)
    with services.bypassing():
        services.set_value(category="smtp", key="host", environment=ENV, value="hotfix.example.com",
                           actor=bypasser, reason="outage")  # fmt: skip
    client.force_login(protected["bob"])
    assert client.get(review_url(request.pk)).context["diffs"][0].moved
    response = client.post(reverse("admin:configurations_changerequest_decide", args=[request.pk]),
                           {"action": "apply"}, follow=True)  # fmt: skip
    html = response.content.decode()
    assert "conflicted" in html and "smtp.host" in html and "changed since the request was made" in html
    assert live("host") == "hotfix.example.com"
    assert ChangeRequest.objects.get().state == RequestState.CONFLICTED


def test_an_edit_after_approval_withdraws_it_and_the_page_shows_it(client, protected):
    opened = services.open_request(ENV, [services.Change("smtp", "host", ENV, "a.example.com")], title="t",
                                   actor=protected["alice"])  # fmt: skip
    services.approve(opened.request, actor=protected["bob"])
    services.edit_items(opened.request, [services.Change("smtp", "host", ENV, "b.example.com")],
                        actor=protected["alice"])  # fmt: skip
    client.force_login(protected["carol"])
    page = client.get(review_url(opened.request.pk))
    assert [(a.approver, a.valid) for a in page.context["approvals"]] == [("bob", False)]
    assert "withdrawn: the items changed after it" in page.content.decode()


def test_reject_needs_a_reason_and_only_the_author_or_a_superuser_cancels(client, protected):
    open_from_editor(client, protected["alice"], host="new.example.com")
    request = ChangeRequest.objects.get()
    client.force_login(protected["bob"])
    assert "cancel" not in client.get(review_url(request.pk)).context["allowed"]
    assert decide(client, request.pk, "cancel").status_code == 403
    decide(client, request.pk, "reject")
    assert ChangeRequest.objects.get().state == RequestState.IN_REVIEW
    decide(client, request.pk, "reject", reason="wrong host")
    request.refresh_from_db()
    assert (request.state, request.decision_reason, request.decided_by) == ("rejected", "wrong host", protected["bob"])


def test_a_viewer_sees_the_request_but_no_button_and_cannot_decide(client, protected):
    open_from_editor(client, protected["alice"], host="new.example.com")
    request = ChangeRequest.objects.get()
    viewer = editor_of("development", username="viewer")
    client.force_login(viewer)
    page = client.get(review_url(request.pk))
    assert page.status_code == 200 and page.context["allowed"] == set()
    assert 'name="action"' not in page.content.decode()
    for action in ("approve", "apply", "reject"):
        assert decide(client, request.pk, action, reason="x").status_code == 403
    assert not request.approvals.exists() and ChangeRequest.objects.get().state == RequestState.IN_REVIEW
    assert client.post(review_url(request.pk), {"action": "approve"}).status_code == 405  # decisions: decide_view
    assert ChangeRequest.objects.get().state == RequestState.IN_REVIEW


def test_the_list_filters_by_state_environment_and_author(client, protected):
    services.open_request(ENV, [services.Change("smtp", "host", ENV, "a.example.com")], title="first",
                          actor=protected["alice"])  # fmt: skip
    services.open_request(ENV, [services.Change("smtp", "port", ENV, "2525")], title="second",
                          actor=protected["bob"])  # fmt: skip
    client.force_login(protected["carol"])
    url = reverse("admin:configurations_changerequest_changelist")
    listing = client.get(url, {"author__id__exact": str(protected["bob"].pk)})
    assert [r.title for r in listing.context["cl"].result_list] == ["second"]
    assert client.get(url, {"state__exact": "applied"}).context["cl"].result_list.count() == 0
    assert client.get(url, {"environment__exact": ENV}).context["cl"].result_list.count() == 2


def test_a_user_with_the_bypass_permission_may_write_directly_and_the_history_says_so(client, protected, history):
    user = protected["alice"]
    user.user_permissions.add(Permission.objects.get(codename=f"bypass_review_{ENV}"))
    client.force_login(user)
    assert "bypass_review" in client.get(edit_url()).content.decode()
    data = post_data(client, edit_url(), host="hotfix.example.com", reason="outage")
    history.mark()
    client.post(edit_url(), {**data, "bypass_review": "yes"})
    [entry] = history.rows()
    assert entry.change_reason == f"{BYPASS_MARK} outage" and live("host") == "hotfix.example.com"
    assert not ChangeRequest.objects.exists()


def test_without_the_permission_a_ticked_bypass_still_opens_a_request(client, protected, history):
    client.force_login(protected["alice"])
    data = post_data(client, edit_url(), host="sneaky.example.com", reason="try")
    history.mark()
    client.post(edit_url(), {**data, "bypass_review": "yes"})
    assert history.rows() == [] and ChangeRequest.objects.count() == 1 and live("host") == "old.example.com"


def test_an_invalid_value_opens_no_request_and_says_where(client, protected):
    assert ConfigurationMetadata.objects.get(category="smtp", config_key="port").validation_rules["max"] == 65535
    client.force_login(protected["alice"])
    response = client.post(edit_url(), post_data(client, edit_url(), port="70000"))
    assert response.status_code == 200 and not ChangeRequest.objects.exists()
    assert response.context["form"].errors["value__port"]
    assert not SystemConfiguration.objects.filter(config_key="port").exists()
    assert not ConfigurationHistory.objects.filter(config_key="port").exists()


def test_a_second_request_on_the_same_key_warns_when_it_is_opened(client, protected):
    open_from_editor(client, protected["alice"], host="first.example.com")
    response = open_from_editor(client, protected["bob"], host="second.example.com")
    page = client.get(response["Location"]).content.decode()
    first = ChangeRequest.objects.order_by("id").first()
    assert f"is also changed by open request #{first.pk}: whichever is applied second will conflict" in page
