from __future__ import annotations

import os

import pytest
from django.db import connection

from configurations.models import ConfigurationHistory

from .factories import UserFactory


def pytest_collection_modifyitems(config, items):
    """Run each test on the databases it concerns; the others are deselected, not skipped."""
    other = "sqlite" if connection.vendor == "postgresql" else "postgres"
    deselected = [item for item in items if item.get_closest_marker(other)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker(other)]


def pytest_report_header(config):
    return f"database: {connection.vendor} ({connection.settings_dict['NAME']})"


def pytest_sessionfinish(session, exitstatus):
    """On CI nothing may be skipped: a skipped PostgreSQL or browser test is a failure."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") and skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) were skipped; skips are failures on CI.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def history():
    """The history rows written since the fixture was set up, oldest first."""

    class Recorder:
        def __init__(self):
            self.mark()

        def mark(self):
            """Forget the rows written so far."""
            self.start = ConfigurationHistory.objects.order_by("-id").values_list("id", flat=True).first() or 0

        def rows(self, **filters):
            return list(ConfigurationHistory.objects.filter(id__gt=self.start, **filters).order_by("id"))

    return Recorder()
