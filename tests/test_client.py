"""The standalone client against real served processes: standard library only, typed getters, the long poll and
ETag, change callbacks, the last-known-good cache file, start-up without the server, and a server restart."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading

import pytest
from cryptography.fernet import Fernet

from configurations import services
from configurations.client import ClientUnavailable, ConfigClient
from configurations.services import tokens
from tests.conftest import subprocess_env
from tests.factories import editor_of
from tests.outage import refuse_connections, serving_as_app_role
from tests.servers import Gunicorn, get

pytestmark = pytest.mark.django_db(transaction=True)
ENV = "development"


@pytest.fixture
def token():
    services.set_value(category="smtp", key="port", environment=ENV, value="587", value_type="number")
    services.set_value(category="smtp", key="host", environment=ENV, value="a.example.com")
    services.set_value(category="smtp", key="auth_pass", environment=ENV, value="client-secret-1")
    services.set_value(category="feature", key="beta", environment=ENV, value="true", value_type="boolean")
    services.set_value(category="feature", key="layout", environment=ENV, value='{"columns": 3}', value_type="json")
    owner = editor_of(ENV, username="client-owner")
    return tokens.create_token(name="client", owner=owner, environments=[ENV], secrets=True).plaintext


def _serve(port: int = 0) -> Gunicorn:
    env = subprocess_env(CONFIG_RUNTIME_WATCH="1", CONFIG_ENVIRONMENT=ENV, CONFIG_RUNTIME_POLL_INTERVAL="0.05")
    server = Gunicorn(env, workers=1, threads=4, port=port)
    server.wait_until(lambda: get(server.url + "/readyz").status == 200, timeout=30, what="ready")
    return server


@pytest.fixture
def server():
    found = _serve()
    yield found
    found.stop()


def test_it_imports_with_the_standard_library_alone():
    code = "import sys, configurations.client; assert not [m for m in sys.modules if m.split('.')[0] == 'django']"
    subprocess.run([sys.executable, "-c", code], check=True, env={"PATH": os.environ["PATH"]}, cwd=os.getcwd())


def test_typed_reads_and_a_change_arriving_by_the_long_poll(token, server):
    client = ConfigClient(server.url, token, ENV, wait=5).start()
    changed = threading.Event()
    seen: list[list[str]] = []
    client.on_change(lambda categories: (seen.append(categories), changed.set()))
    try:
        assert client.get_int("smtp", "port") == 587 and client.get_bool("feature", "beta") is True
        assert (
            client.get_json("feature", "layout") == {"columns": 3} and client.get_str("smtp", "host") == "a.example.com"
        )
        assert client.get_float("smtp", "port") == 587.0 and client.get("smtp", "nope", None) is None
        with pytest.raises(TypeError):
            client.get_bool("smtp", "port")
        with pytest.raises(KeyError):
            client.get("smtp", "nope")
        services.set_value(category="smtp", key="port", environment=ENV, value="2525", value_type="number")
        assert changed.wait(10)
        assert seen[-1] == ["smtp"] and client.get_int("smtp", "port") == 2525 and client.source == "server"
    finally:
        client.close()


def test_the_cache_file_is_atomic_checksummed_0600_and_holds_secrets_only_encrypted(token, server, tmp_path):
    plain_path, sealed_path = tmp_path / "plain.json", tmp_path / "sealed.json"
    ConfigClient(server.url, token, ENV, cache_path=str(plain_path)).start(follow=False)
    cipher = Fernet(Fernet.generate_key())
    ConfigClient(server.url, token, ENV, cache_path=str(sealed_path), cache_cipher=cipher).start(follow=False)
    for path in (plain_path, sealed_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "client-secret-1" not in path.read_text()
    server.stop()  # start-up without the server: from the file
    plain = ConfigClient(server.url, token, ENV, cache_path=str(plain_path), timeout=1).start(follow=False)
    assert (plain.source, plain.get_int("smtp", "port"), plain.get("smtp", "auth_pass", "left out")) == (
        "cache", 587, "left out")  # fmt: skip
    sealed = ConfigClient(server.url, token, ENV, cache_path=str(sealed_path), cache_cipher=cipher, timeout=1)
    assert sealed.start(follow=False).get_str("smtp", "auth_pass") == "client-secret-1"
    document = json.loads(plain_path.read_text())
    plain_path.write_text(json.dumps({**document, "body": document["body"].replace("587", "588")}))
    with pytest.raises(ClientUnavailable):  # a file that does not verify is ignored
        ConfigClient(server.url, token, ENV, cache_path=str(plain_path), timeout=1).start(follow=False)


def test_a_bootstrap_file_when_there_is_nothing_else(token, tmp_path):
    bootstrap = tmp_path / "bootstrap.json"
    bootstrap.write_text(json.dumps({"version": 1, "categories": {"smtp": {"values": {"port": 25}}}}))
    client = ConfigClient("http://127.0.0.1:9", token, ENV, bootstrap_path=str(bootstrap), timeout=1)
    assert client.start(follow=False).get_int("smtp", "port") == 25 and client.source == "bootstrap"


def test_a_server_restart_keeps_the_last_values_and_catches_up(token, server, tmp_path):
    client = ConfigClient(server.url, token, ENV, wait=2, timeout=2, max_backoff=0.5).start()
    try:
        server.stop()
        services.set_value(
            category="smtp", key="port", environment=ENV, value="2526", value_type="number"
        )  # while down
        threading.Event().wait(1.5)
        assert client.stale and client.get_int("smtp", "port") == 587  # the last values, still served
        restarted = _serve(port=server.port)
        try:
            restarted.wait_until(lambda: client.get_int("smtp", "port") == 2526, timeout=20, what="caught up")
            assert not client.stale
        finally:
            restarted.stop()
    finally:
        client.close()


@pytest.mark.postgres
def test_a_database_outage_leaves_the_client_serving_its_last_values(roles):
    with serving_as_app_role(roles) as (server, auth, role, _):
        _through_an_outage(server, auth, role)


def _through_an_outage(server, auth, role):
    token = auth["Authorization"].removeprefix("Bearer ")
    client = ConfigClient(server.url, token, "development", wait=2, timeout=3, max_backoff=0.5).start()
    try:
        assert client.get_str("smtp", "host") == "a.example.com"
        refuse_connections(role, refuse=True)
        try:
            threading.Event().wait(3)  # polls and fetches meanwhile: the server answers from its snapshot, or fails
            assert client.get_str("smtp", "host") == "a.example.com"
        finally:
            refuse_connections(role, refuse=False)
        services.set_value(category="smtp", key="host", environment="development", value="b.example.com")
        server.wait_until(lambda: client.get_str("smtp", "host") == "b.example.com", timeout=20, what="caught up")
    finally:
        client.close()
