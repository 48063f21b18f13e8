"""A real database outage for served tests: gunicorn serving as the application role, whose connections are then
refused (REVOKE CONNECT and its backends terminated; the server is never stopped). PostgreSQL only."""

from __future__ import annotations

import contextlib

from django.db import connection

from configurations import services
from configurations.services import tokens
from tests.conftest import subprocess_env
from tests.factories import USER_PASSWORD, editor_of
from tests.servers import Client, Gunicorn, get


def refuse_connections(role: str, *, refuse: bool) -> None:
    """Refuse (or allow again) the role's connections to the test database."""
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        if refuse:
            cursor.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM "{role}"')
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role])
        else:
            cursor.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')


@contextlib.contextmanager
def serving_as_app_role(roles):
    """(server, auth headers, the app role, a logged-in staff client) until the block ends."""
    boss = editor_of(username="outage-boss", is_superuser=True)
    services.set_value(category="smtp", key="host", environment="development", value="a.example.com")
    services.set_value(category="smtp", key="auth_pass", environment="development", value="outage-secret-1")
    token = tokens.create_token(name="outage", owner=boss, environments=["development"], write=True).plaintext
    settings = connection.settings_dict
    url = f"postgres://{roles['app']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    env = subprocess_env(DATABASE_URL=url, CONFIG_RUNTIME_WATCH="1", CONFIG_ENVIRONMENT="development")
    with Gunicorn(env, workers=1, threads=4) as server:
        server.wait_until(lambda: get(server.url + "/readyz").status == 200, timeout=30, what="ready")
        try:
            staff = Client(server.url)
            staff.login("outage-boss", USER_PASSWORD)
            yield server, {"Authorization": f"Bearer {token}"}, roles["app"], staff
        finally:
            refuse_connections(roles["app"], refuse=False)
