"""Test settings: the real settings with a throwaway secret and a fast password hasher."""

import base64
import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
# A fresh key per test session; subprocesses inherit it through the environment.
os.environ.setdefault("CONFIG_ENCRYPTION_KEYS", f"test:{base64.urlsafe_b64encode(os.urandom(32)).decode()}")

# Tests speak plain HTTP to the test client and to the servers they start (test_serving checks the production
# defaults with DEBUG off in a process of its own).
for _name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
    os.environ.setdefault(_name, "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")

from config_site.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CONFIG_TRUSTED_PROXIES = ["10.0.0.1"]

# SQLite tests use a file, not memory, so that subprocesses (commands run for real) see the test database.
if DATABASES["default"]["ENGINE"] == "configurations.data.backends.sqlite3":  # noqa: F405
    _name = str(DATABASES["default"]["NAME"])  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": (_name if _name != ":memory:" else "db") + ".pytest.sqlite3"}  # noqa: F405

# No watcher threads in tests unless a test starts one: they would hold connections to the test database.
CONFIG_RUNTIME_WATCH = os.environ.get("CONFIG_RUNTIME_WATCH") == "1"
