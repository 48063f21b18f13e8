"""Test settings: the real settings with a throwaway secret and a fast password hasher."""

import base64
import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
# A fresh key per test session; subprocesses inherit it through the environment.
os.environ.setdefault("CONFIG_ENCRYPTION_KEYS", f"test:{base64.urlsafe_b64encode(os.urandom(32)).decode()}")

from config_site.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CONFIG_TRUSTED_PROXIES = ["10.0.0.1"]
