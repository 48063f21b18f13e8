"""The in-process OpenFeature provider: the same keys, values, reasons and error codes as OFREP, read from the
snapshot, and PROVIDER_CONFIGURATION_CHANGED when it changes."""

from __future__ import annotations

import threading

import pytest
from openfeature import api
from openfeature.event import ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from configurations import runtime, services
from configurations.openfeature import ConfigurationProvider
from tests.factories import MetadataFactory

pytestmark = pytest.mark.django_db
ENV = "staging"


@pytest.fixture
def flags(settings):
    settings.CONFIG_ENVIRONMENT = ENV
    runtime.reset()
    services.set_value(category="feature", key="beta", environment=ENV, value="true", value_type="boolean")
    services.set_value(category="feature", key="ratio", environment=ENV, value="0.5", value_type="number")
    services.set_value(category="feature", key="limit", environment=ENV, value="25", value_type="number")
    services.set_value(category="feature", key="api_token", environment=ENV, value="in-process-secret-1")
    MetadataFactory(category="feature", config_key="dark_mode", input_type="checkbox", default_value="true")
    api.set_provider_and_wait(ConfigurationProvider(), domain="in-process")
    yield api.get_client(domain="in-process")
    api.shutdown()
    runtime.reset()


def test_values_reasons_and_types(flags):
    assert flags.get_boolean_value("feature.beta", False) is True
    assert flags.get_float_value("feature.ratio", 0.0) == 0.5
    assert flags.get_float_value("feature.limit", 0.0) == 25.0  # an integer passes as a float
    assert flags.get_integer_value("feature.limit", 0) == 25
    details = flags.get_boolean_details("feature.dark_mode", False)
    assert (details.value, details.reason, details.variant) == (True, Reason.DEFAULT, "default")
    assert flags.get_boolean_details("feature.beta", False).reason == Reason.STATIC


def test_errors_answer_the_default_with_the_code(flags):
    for flag, getter, code in (
        ("feature.nope", flags.get_boolean_details, ErrorCode.FLAG_NOT_FOUND),
        ("feature.api_token", flags.get_string_details, ErrorCode.FLAG_NOT_FOUND),
        ("feature.ratio", flags.get_integer_details, ErrorCode.TYPE_MISMATCH),
        ("nodot", flags.get_boolean_details, ErrorCode.FLAG_NOT_FOUND),
    ):
        default = "d" if getter == flags.get_string_details else 0 if getter == flags.get_integer_details else False
        details = getter(flag, default)
        assert (details.value, details.error_code, details.reason) == (default, code, Reason.ERROR)
        assert "in-process-secret-1" not in (details.error_message or "")


def test_a_change_emits_provider_configuration_changed(flags):
    seen = threading.Event()
    changed: list[list[str]] = []

    def handler(details):
        changed.append(details.flags_changed)
        seen.set()

    api.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, handler)
    try:
        services.set_value(category="feature", key="limit", environment=ENV, value="26")
        runtime.reload(ENV)  # what the watcher does on the change's NOTIFY (or poll)
        assert seen.wait(5)
    finally:
        api.remove_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, handler)
    assert "feature.limit" in changed[-1]
    assert flags.get_integer_value("feature.limit", 0) == 26
