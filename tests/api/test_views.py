"""The HTTP API through Django's test client, on both databases: tokens, scopes, typed values, ETags, writes,
history, the long poll's immediate answers, throttling, problem details, the schema and the commands."""

from __future__ import annotations

import datetime
import json
import re
import time

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from configurations import runtime, services
from configurations.data.models import ApiToken, ConfigurationHistory, SystemConfiguration
from configurations.services import tokens
from tests.factories import MetadataFactory, UserFactory, editor_of

pytestmark = pytest.mark.django_db
API = "/api/v1/environments"


@pytest.fixture(autouse=True)
def fresh(settings):
    settings.CONFIG_ENVIRONMENT = "development"
    runtime.reset()
    cache.clear()
    yield
    runtime.reset()


@pytest.fixture
def owner():
    return editor_of("development", "staging", username="svc-owner")


@pytest.fixture
def data():
    for env in ("development", "production"):
        services.set_value(category="smtp", key="host", environment=env, value=f"{env}.example.com")
        services.set_value(category="smtp", key="port", environment=env, value="587")
        services.set_value(category="smtp", key="secure", environment=env, value="false")
        services.set_value(category="smtp", key="auth_pass", environment=env, value=f"{env}-api-secret-1")
    services.set_value(category="app", key="tree", environment="development", value={"a": [1, 2]}, value_type="json")
    services.set_value(category="billing", key="plan", environment="development", value="pro")


def make_token(owner, *environments, **options) -> str:
    created = tokens.create_token(
        name=options.pop("name", f"t{time.monotonic_ns()}"), owner=owner, environments=environments, **options
    )
    return created.plaintext


def call(client, method, path, token=None, body=None, **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if body is not None:
        return getattr(client, method)(path, json.dumps(body), content_type="application/json", **headers)
    return getattr(client, method)(path, **headers)


def assert_problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.content[:1000]
    assert answer["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    return body


# ------------------------------------------------------------------------------------- authentication


def test_no_unknown_revoked_expired_or_inactive_token_gets_in(client, owner, data):
    path = f"{API}/development/categories/smtp/"
    body = assert_problem(call(client, "get", path), 401)
    assert body["title"] == "Not authenticated"
    assert call(client, "get", path)["WWW-Authenticate"].startswith("Bearer")
    assert_problem(call(client, "get", path, "cfg_not-a-real-token"), 401)
    assert_problem(call(client, "get", path, HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz"), 401)
    revoked = make_token(owner, "development", name="revoked")
    tokens.revoke_token("revoked")
    expired = make_token(owner, "development", name="expired")
    ApiToken.objects.filter(name="expired").update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    inactive_owner = UserFactory(username="gone", is_staff=True)
    inactive = make_token(inactive_owner, "development", name="inactive")
    inactive_owner.is_active = False
    inactive_owner.save()
    answers = [assert_problem(call(client, "get", path, t), 401) for t in (revoked, expired, inactive)]
    assert len({json.dumps(a) for a in answers}) == 1  # the same answer: nothing says which it was


def test_only_a_digest_is_stored_and_last_use_is_recorded(client, owner, data):
    plaintext = make_token(owner, "development", name="digest")
    token = ApiToken.objects.get(name="digest")
    assert token.token_hash == tokens.digest(plaintext) and plaintext not in str(list(ApiToken.objects.values()))
    assert token.last_used_at is None
    assert call(client, "get", f"{API}/development/categories/smtp/", plaintext).status_code == 200
    assert ApiToken.objects.get(name="digest").last_used_at is not None


# ------------------------------------------------------------------------------------------- scopes


def test_scope_leaks_get_one_answer_whatever_exists(client, owner, data):
    dev = make_token(owner, "development", categories=["smtp"])
    production = assert_problem(call(client, "get", f"{API}/production/categories/smtp/", dev), 403)
    nowhere = assert_problem(call(client, "get", f"{API}/nowhere/categories/smtp/", dev), 403)
    billing = assert_problem(call(client, "get", f"{API}/development/categories/billing/", dev), 403)
    missing = assert_problem(call(client, "get", f"{API}/development/categories/no-such/", dev), 403)
    assert production == nowhere == billing == missing
    assert "production" not in json.dumps(production) and "billing" not in json.dumps(billing)
    everything = call(client, "get", f"{API}/development/configurations/", dev).json()
    assert set(everything["categories"]) == {"smtp"}
    for path in ("changes/", "categories/billing/keys/plan/history/"):
        assert_problem(call(client, "get", f"{API}/production/{path}", dev), 403)


def test_an_empty_category_in_scope_is_404(client, owner, data):
    token = make_token(owner, "development")
    assert_problem(call(client, "get", f"{API}/development/categories/empty/", token), 404)


# ------------------------------------------------------------------------------------------- values


def test_typed_values_and_secrets_null_without_the_secrets_scope(client, owner, data):
    token = make_token(owner, "development")
    body = call(client, "get", f"{API}/development/categories/smtp/", token).json()
    assert body["values"] == {"host": "development.example.com", "port": 587, "secure": False, "auth_pass": None}
    assert body["secret_keys"] == ["auth_pass"] and body["environment"] == "development"
    newest = ConfigurationHistory.objects.filter(environment="development", category="smtp").order_by("-id")[0]
    assert body["version"] == newest.id
    app = call(client, "get", f"{API}/development/categories/app/", token).json()
    assert app["values"] == {"tree": {"a": [1, 2]}}
    everything = call(client, "get", f"{API}/development/configurations/", token).json()
    assert set(everything["categories"]) == {"smtp", "app", "billing"}
    assert everything["categories"]["smtp"]["values"]["auth_pass"] is None
    assert b"development-api-secret-1" not in call(client, "get", f"{API}/development/configurations/", token).content


def test_secrets_only_with_the_scope_and_an_owner_who_may_edit(client, owner, data):
    token = make_token(owner, "development", secrets=True)
    body = call(client, "get", f"{API}/development/categories/smtp/", token).json()
    assert body["values"]["auth_pass"] == "development-api-secret-1"
    owner.user_permissions.clear()  # the owner lost the right: the token no longer reveals anything
    body = call(client, "get", f"{API}/development/categories/smtp/", token).json()
    assert body["values"]["auth_pass"] is None
    viewer = UserFactory(username="viewer", is_staff=True)
    with pytest.raises(Exception, match="may not edit"):
        make_token(viewer, "development", secrets=True)


def test_a_key_read_answers_its_value_or_its_default_and_says_which(client, owner, data):
    MetadataFactory(category="smtp", config_key="timeout", input_type="number", default_value="30")
    token = make_token(owner, "development")
    key = call(client, "get", f"{API}/development/categories/smtp/keys/port/", token).json()
    assert (key["value"], key["source"], key["secret"]) == (587, "stored", False)
    default = call(client, "get", f"{API}/development/categories/smtp/keys/timeout/", token).json()
    assert (default["value"], default["source"]) == (30, "default")
    secret = call(client, "get", f"{API}/development/categories/smtp/keys/auth_pass/", token).json()
    assert (secret["value"], secret["secret"]) == (None, True)
    assert_problem(call(client, "get", f"{API}/development/categories/smtp/keys/nope/", token), 404)
    category = call(client, "get", f"{API}/development/categories/smtp/", token)
    assert category.json()["values"]["timeout"] == 30
    assert category.json()["sources"] == {"host": "stored", "port": "stored", "secure": "stored",
                                          "auth_pass": "stored", "timeout": "default"}  # fmt: skip
    meta = MetadataFactory._meta.model.objects.get(category="smtp", config_key="timeout")
    meta.default_value = "45"
    services.save_rule(meta)
    changed = call(client, "get", f"{API}/development/categories/smtp/", token, HTTP_IF_NONE_MATCH=category["ETag"])
    assert changed.status_code == 200 and changed.json()["values"]["timeout"] == 45  # a changed default is news


def test_unknown_api_urls_are_problem_documents(client, owner, data):
    body = assert_problem(call(client, "get", "/api/v1/nothing/here/"), 404)
    assert "/api/v1/docs/" in body["detail"]
    assert_problem(call(client, "post", f"{API}/development/unknown/", make_token(owner, "development")), 404)


def test_etags_and_304(client, owner, data):
    token = make_token(owner, "development")
    path = f"{API}/development/categories/smtp/"
    first = call(client, "get", path, token)
    etag = first["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = call(client, "get", path, token, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    all_path = f"{API}/development/configurations/"
    all_etag = call(client, "get", all_path, token)["ETag"]
    assert call(client, "get", all_path, token, HTTP_IF_NONE_MATCH=all_etag).status_code == 304
    services.set_value(category="smtp", key="port", environment="development", value="2525")
    changed = call(client, "get", path, token, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag and changed.json()["values"]["port"] == 2525
    assert call(client, "get", all_path, token, HTTP_IF_NONE_MATCH=all_etag).status_code == 200
    revealing = make_token(owner, "development", secrets=True)
    assert call(client, "get", path, revealing)["ETag"] != changed["ETag"]  # another representation


def test_reads_cost_the_token_lookup_and_a_freshness_check(client, owner, data, django_assert_num_queries):
    token = make_token(owner, "development")
    path = f"{API}/development/categories/smtp/"
    call(client, "get", path, token)  # loads the snapshot
    # Without a watcher (tests): the token, and the one-query delta check; with one (serving/): the token.
    with django_assert_num_queries(2):
        assert call(client, "get", path, token).status_code == 200


# ------------------------------------------------------------------------------------------- writes


def put(client, token, key, value, *, category="smtp", environment="development", **headers):
    path = f"{API}/{environment}/categories/{category}/keys/{key}/"
    return call(client, "put", path, token, {"value": value, "reason": "from the API test"}, **headers)


def test_a_read_token_cannot_write(client, owner, data):
    token = make_token(owner, "development")
    assert_problem(put(client, token, "port", 2525), 403)
    assert services.get_value(category="smtp", key="port", environment="development") == 587


def test_writes_go_through_the_services_and_are_audited(client, owner, data):
    token = make_token(owner, "development", write=True, name="deployer")
    answer = put(client, token, "port", 2525, HTTP_USER_AGENT="deploy-bot/1.0", REMOTE_ADDR="192.0.2.7")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["value"] == 2525 and body["changed"] is True
    assert services.get_value(category="smtp", key="port", environment="development") == 2525
    entry = ConfigurationHistory.objects.filter(config_key="port", environment="development").order_by("-id")[0]
    assert body["version"] == entry.id and answer["ETag"] == f'"c{entry.id}.m"'
    assert entry.changed_by_id == owner.pk and entry.user_agent == "deploy-bot/1.0"
    assert str(entry.ip_address) == "192.0.2.7"
    assert entry.change_reason == "from the API test (API token deployer)"
    again = put(client, token, "port", 2525)
    assert again.json()["changed"] is False  # the same value: nothing written
    assert again.json()["version"] == entry.id  # read on its own, since nothing was written


def test_a_put_reads_the_new_version_in_its_write_s_round_trip(client, owner, data):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    token = make_token(owner, "development", write=True)
    for key, value in (("port", 2526), ("brand_new_key", "x")):  # an UPDATE, then an INSERT
        with CaptureQueriesContext(connection) as captured:
            answer = put(client, token, key, value)
        assert answer.status_code == 200, answer.content
        entry = ConfigurationHistory.objects.filter(config_key=key, environment="development").order_by("-id")[0]
        assert answer.json()["version"] == entry.id and answer["ETag"] == f'"c{entry.id}.m"'
        writes = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().startswith(("UPDATE", "INSERT"))]
        together = [sql for sql in writes if "config_category_version" in sql]  # the version's read, on PostgreSQL
        assert len(together) == (1 if connection.vendor == "postgresql" else 0), writes


def test_a_secret_written_through_the_api_is_encrypted_and_not_echoed(client, owner, data):
    token = make_token(owner, "development", write=True, secrets=True)
    answer = put(client, token, "auth_pass", "new-api-secret-2")
    assert answer.status_code == 200 and answer.json()["value"] is None
    row = SystemConfiguration.objects.get(category="smtp", config_key="auth_pass", environment="development")
    assert row.is_encrypted and "new-api-secret-2" not in row.config_value
    assert b"new-api-secret-2" not in answer.content


@pytest.mark.parametrize("guess", ["development-api-secret-1", "a-wrong-guess"], ids=["right", "wrong"])
def test_a_write_token_without_secrets_cannot_write_a_secret_so_cannot_test_a_guess(client, owner, data, guess):
    MetadataFactory(category="smtp", config_key="login", input_type="password")
    token = make_token(owner, "development", write=True)
    before = ConfigurationHistory.objects.count()
    for key in ("auth_pass", "login", "new_api_token"):  # stored, password metadata, a secret name not yet stored
        body = assert_problem(put(client, token, key, guess), 403)
        assert body["detail"].startswith(f"smtp.{key} is a secret; this token may not write secrets")
    assert ConfigurationHistory.objects.count() == before
    assert services.get_value(category="smtp", key="auth_pass", environment="development") == "development-api-secret-1"


def test_validation_errors_are_422_with_every_problem(client, owner, data):
    token = make_token(owner, "development", write=True)
    body = assert_problem(put(client, token, "port", 70000), 422)
    assert body["errors"] and all({"key", "rule", "message"} == set(e) for e in body["errors"])
    assert body["errors"][0]["key"] == "port"
    assert services.get_value(category="smtp", key="port", environment="development") == 587
    missing = call(client, "put", f"{API}/development/categories/smtp/keys/port/", token, {"reason": "no value"})
    assert assert_problem(missing, 422)["errors"][0]["key"] == "value"
    bad_name = assert_problem(put(client, token, "Bad Key!", "x"), 422)
    assert bad_name["errors"]


def test_if_match_refuses_a_stale_etag(client, owner, data):
    token = make_token(owner, "development", write=True)
    etag = call(client, "get", f"{API}/development/categories/smtp/", token)["ETag"]
    assert put(client, token, "port", 2525, HTTP_IF_MATCH=etag).status_code == 200
    stale = put(client, token, "port", 2600, HTTP_IF_MATCH=etag)
    assert_problem(stale, 412)
    assert services.get_value(category="smtp", key="port", environment="development") == 2525
    fresh = call(client, "get", f"{API}/development/categories/smtp/", token)["ETag"]
    assert put(client, token, "port", 2600, HTTP_IF_MATCH=fresh).status_code == 200
    assert_problem(put(client, token, "port", 2700, HTTP_IF_MATCH='"garbage"'), 412)


def test_the_owners_permissions_hold_on_writes(client, data):
    owner = editor_of("development", username="dev-writer")
    token = make_token(owner, "development", write=True)
    owner.user_permissions.clear()
    assert_problem(put(client, token, "port", 2525), 403)
    assert services.get_value(category="smtp", key="port", environment="development") == 587
    # Before the version is compared (a 412 would tell the category's version), and for a new key (the locked path).
    assert_problem(put(client, token, "port", 2525, HTTP_IF_MATCH='"1"'), 403)
    assert_problem(put(client, token, "brand_new", "x"), 403)
    assert not SystemConfiguration.objects.filter(category="smtp", config_key="brand_new").exists()


# ------------------------------------------------------------------------------------------ history


def test_key_history_is_paged_and_masks_secrets(client, owner, data):
    token = make_token(owner, "development")
    for port in (2000, 2001, 2002):
        services.set_value(category="smtp", key="port", environment="development", value=str(port))
    path = f"{API}/development/categories/smtp/keys/port/history/"
    first = call(client, "get", path + "?limit=2", token).json()
    assert [e["new_value"] for e in first["results"]] == ["2002", "2001"] and first["next"]
    second = call(client, "get", path + f"?limit=2&before={first['next']}", token).json()
    assert [e["new_value"] for e in second["results"]] == ["2000", "587"]
    secret = call(client, "get", f"{API}/development/categories/smtp/keys/auth_pass/history/", token)
    entries = secret.json()["results"]
    assert entries and all(e["is_secret"] and e["old_value"] is None and e["new_value"] is None for e in entries)
    assert b"api-secret" not in secret.content


# ------------------------------------------------------------------------------------ changes (now)


def test_changes_without_since_answer_the_version_at_once(client, owner, data):
    token = make_token(owner, "development", categories=["smtp"])
    body = call(client, "get", f"{API}/development/changes/", token).json()
    smtp = ConfigurationHistory.objects.filter(environment="development", category="smtp").order_by("-id")[0].id
    assert body == {"version": smtp, "changed": []}  # billing's and app's newer versions are out of scope


def test_changes_since_an_older_version_answer_at_once_and_a_current_one_waits(client, owner, data):
    token = make_token(owner, "development")
    version = call(client, "get", f"{API}/development/changes/", token).json()["version"]
    services.set_value(category="billing", key="plan", environment="development", value="team")
    answer = call(client, "get", f"{API}/development/changes/?since={version}&wait=5", token).json()
    assert answer["changed"] == ["billing"] and answer["version"] > version
    started = time.monotonic()
    waited = call(client, "get", f"{API}/development/changes/?since={answer['version']}&wait=0.3", token)
    assert waited.status_code == 304 and time.monotonic() - started >= 0.3


@pytest.mark.parametrize("query", ["since=abc", "since=-1", "wait=61", "wait=x", "since=1&wait=-2"])
def test_changes_refuse_bad_parameters(client, owner, data, query):
    token = make_token(owner, "development")
    assert_problem(call(client, "get", f"{API}/development/changes/?{query}", token), 400)


# ---------------------------------------------------------------------------------------- throttling


def test_each_token_is_rate_limited(client, owner, data, settings):
    settings.CONFIG_API_RATE = "3/min"
    first, second = make_token(owner, "development"), make_token(owner, "development")
    path = f"{API}/development/categories/smtp/"
    assert [call(client, "get", path, first).status_code for _ in range(3)] == [200] * 3
    limited = call(client, "get", path, first)
    assert_problem(limited, 429)
    assert int(limited["Retry-After"]) > 0
    assert call(client, "get", path, second).status_code == 200  # per token


# ------------------------------------------------------------------------------------ schema and docs


def test_the_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = json.loads(schema.content)
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/environments/{environment}/categories/{category}/keys/{key}/"} <= set(document["paths"])
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower() and "<script>" not in html  # scripts are files: the CSP allows them
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def test_the_schema_declares_the_headers_and_problem_bodies_clients_need(client, owner, data):
    document = json.loads(client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    base = "/api/v1/environments/{environment}"
    category, key = (
        document["paths"][f"{base}/categories/{{category}}/"]["get"],
        document["paths"][f"{base}/categories/{{category}}/keys/{{key}}/"]["put"],
    )

    def headers_in(operation, where) -> set[str]:
        return {p["name"] for p in operation["parameters"] if p["in"] == where}

    assert {"If-None-Match"} <= headers_in(category, "header") and {"If-Match"} <= headers_in(key, "header")
    assert set(category["responses"]["200"]["headers"]) >= {"ETag", "X-Config-Stale"}
    assert "ETag" in category["responses"]["304"]["headers"] and "ETag" in key["responses"]["200"]["headers"]
    reads, writes = ("401", "403", "404", "429", "503"), ("401", "403", "404", "412", "422", "429", "503")
    for operation, codes in ((category, reads), (key, writes)):
        for code in codes:
            body = operation["responses"][code]["content"]["application/problem+json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Problem"}, (code, body)
    assert "WWW-Authenticate" in category["responses"]["401"]["headers"]
    assert {"Retry-After"} <= set(category["responses"]["429"]["headers"]) & set(key["responses"]["503"]["headers"])
    # What the schema says is what the API answers: the ETag's format.
    token = make_token(owner, "development")
    answer = call(client, "get", f"{API}/development/categories/smtp/", token)
    assert re.fullmatch(r'"c[0-9]+\.m"', answer["ETag"])
    environment = call(client, "get", f"{API}/development/configurations/", token)
    assert re.fullmatch(r'"e[0-9a-f]{20}\.m"', environment["ETag"])


# -------------------------------------------------------------------------------------------- commands


def test_create_and_revoke_api_token_commands(client, owner, data, capsys):
    call_command(
        "create_api_token", "ci-reader", "--user", "svc-owner", "--environment", "development",
        "--environment", "staging", "--category", "smtp", "--expires-in", "30",
    )  # fmt: skip
    printed = capsys.readouterr().out.strip().splitlines()
    plaintext = printed[-1]
    assert plaintext.startswith("cfg_") and " " not in plaintext and plaintext not in printed[0]
    token = ApiToken.objects.get(name="ci-reader")
    assert token.environments == ["development", "staging"] and token.categories == ["smtp"]
    assert token.access == "read" and not token.secrets and token.expires_at > timezone.now()
    assert call(client, "get", f"{API}/development/categories/smtp/", plaintext).status_code == 200
    call_command("revoke_api_token", "ci-reader")
    assert "Revoked API token 'ci-reader'" in capsys.readouterr().out
    assert_problem(call(client, "get", f"{API}/development/categories/smtp/", plaintext), 401)


def test_create_api_token_reports_every_problem_and_creates_nothing(owner):
    with pytest.raises(CommandError) as error:
        call_command(
            "create_api_token", "", "--user", "svc-owner", "--environment", "nowhere", "--environment", "production",
            "--category", "Bad Name", "--write", "--expires-in", "0",
        )  # fmt: skip
    text = str(error.value)
    for field in ("name:", "environments:", "categories:", "expires_in_days:"):
        assert field in text
    assert "Nothing was created." in text and not ApiToken.objects.exists()
    with pytest.raises(CommandError, match="may not edit production"):
        call_command("create_api_token", "w", "--user", "svc-owner", "--environment", "production", "--write")
    with pytest.raises(CommandError, match="No token is named"):
        call_command("revoke_api_token", "nope")


# ----------------------------------------------------------------------------------------------- admin


def test_admin_creates_a_token_shown_once_and_revokes_it(admin_client, owner):
    answer = admin_client.post(
        "/admin/configurations/apitoken/add/",
        {"name": "from-admin", "owner": owner.pk, "environments": ["development"], "categories": "smtp, app"},
    )
    assert answer.status_code == 200, answer.content[:2000]
    assert "no-store" in answer["Cache-Control"]
    html = answer.content.decode()
    token = ApiToken.objects.get(name="from-admin")
    plaintext = html.split('<code id="api-token">', 1)[1].split("<", 1)[0]
    assert tokens.digest(plaintext) == token.token_hash and token.categories == ["app", "smtp"]
    assert 'data-copy-target="api-token"' in html and "configurations/copy.js" in html  # a copy button
    listing = admin_client.get("/admin/configurations/apitoken/").content.decode()
    change = admin_client.get(f"/admin/configurations/apitoken/{token.pk}/change/").content.decode()
    assert plaintext not in listing and plaintext not in change and token.prefix in listing
    admin_client.post("/admin/configurations/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert ApiToken.objects.get(pk=token.pk).revoked


def test_admin_token_form_reports_problems(admin_client, owner):
    answer = admin_client.post(
        "/admin/configurations/apitoken/add/",
        {"name": "w", "owner": owner.pk, "environments": ["production"], "write": "on"},
    )
    assert answer.status_code == 200 and b"may not edit production" in answer.content
    assert not ApiToken.objects.exists()


def test_only_superusers_manage_tokens_on_every_path(staff_client, owner):
    client = staff_client("view_apitoken", "add_apitoken", "change_apitoken", "delete_apitoken")
    token = ApiToken.objects.get(
        name=tokens.create_token(name="x", owner=owner, environments=["development"]).token.name
    )
    assert client.get("/admin/configurations/apitoken/").status_code == 403
    assert client.get("/admin/configurations/apitoken/add/").status_code == 403
    form = {"name": "mine", "owner": owner.pk, "environments": ["development"]}
    assert client.post("/admin/configurations/apitoken/add/", form).status_code == 403
    revoke = {"action": "revoke", "_selected_action": [token.pk]}
    assert client.post("/admin/configurations/apitoken/", revoke).status_code == 403
    assert client.post(f"/admin/configurations/apitoken/{token.pk}/delete/", {"post": "yes"}).status_code == 403
    assert list(ApiToken.objects.values_list("name", "revoked")) == [("x", False)]


def test_wait_slots_hold_per_token_and_per_process_and_free_on_exit(settings):
    import contextlib

    from rest_framework.exceptions import Throttled

    from configurations.api.waits import Slots

    settings.CONFIG_API_MAX_WAITS_PER_TOKEN, settings.CONFIG_API_MAX_WAITS = 2, 3
    slots = Slots()
    with contextlib.ExitStack() as held:
        held.enter_context(slots.held(1))
        held.enter_context(slots.held(1))
        with pytest.raises(Throttled, match="This token already has 2 long polls waiting") as per_token:
            held.enter_context(slots.held(1))
        assert per_token.value.wait == 2
        held.enter_context(slots.held(2))
        with pytest.raises(Throttled, match="no room"):
            held.enter_context(slots.held(3))
    assert slots.total == 0 and not slots.by_token
    with slots.held(3):
        assert slots.total == 1


# ------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"value": ' + "[" * 3000 + "]" * 3000 + "}", "nests deeper than 33 levels"),
        ('{"value": 1, "value": 2}', "has the key 'value' twice"),
        ('{"value": NaN}', "may not contain NaN"),
        ('{"value": ', "is not valid JSON"),
    ],
    ids=["deep", "duplicate", "nan", "truncated"],
)
def test_a_bad_body_is_a_400_problem_and_changes_nothing(client, owner, data, body, words):
    token = make_token(owner, "development", write=True)
    before = ConfigurationHistory.objects.count()
    answer = client.put(
        f"{API}/development/categories/smtp/keys/host/", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert words in assert_problem(answer, 400)["detail"]
    assert ConfigurationHistory.objects.count() == before


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("changes/?since=1&since=2", "since was repeated"),
        ("categories/smtp/keys/host/history/?limit=1&limit=2", "limit was repeated"),
        ("categories/smtp/keys/host/history/?before=abc", "a cursor from a page's `next`"),
        ("categories/smtp/keys/host/history/?before=-1", "a cursor from a page's `next`"),
        ("categories/smtp/keys/host/history/?before=" + "9" * 40, "a cursor from a page's `next`"),
        ("categories/smtp/keys/host/history/?before=2026-01-01T00:00:00Z~" + "9" * 40, "a cursor"),
        ("categories/smtp/keys/host/history/?before=2026-01-01T00:00:00~5", "time zone"),
    ],
)
def test_bad_query_parameters_are_400_not_ignored(client, owner, data, path, words):
    token = make_token(owner, "development")
    assert words in assert_problem(call(client, "get", f"{API}/development/{path}", token), 400)["detail"]


def test_a_json_number_for_an_integer_rule_must_be_an_integer(client, owner, data):
    token = make_token(owner, "development", write=True)
    body = assert_problem(put(client, token, "port", 587.0), 422)
    assert body["errors"][0]["rule"] == "integer" and "digits only" in body["errors"][0]["message"]
    assert put(client, token, "port", 2525).status_code == 200
