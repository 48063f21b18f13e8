"""Settings of the gunicorn servers that tests and the load benchmark start: the test settings, the test URLs."""

from tests.settings import *  # noqa: F403

ROOT_URLCONF = "tests.urls"
