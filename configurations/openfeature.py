"""An OpenFeature provider over the runtime snapshots, for Django code that evaluates flags with the OpenFeature SDK
(docs/openfeature.md). Same keys (``category.key``), values, reasons and error codes as the OFREP endpoints
(runtime/flags.py); no query per evaluation. When the snapshot changes it emits
``PROVIDER_CONFIGURATION_CHANGED`` with the flags of the categories whose version moved.

    from openfeature import api
    from configurations.openfeature import ConfigurationProvider
    api.set_provider_and_wait(ConfigurationProvider())  # CONFIG_ENVIRONMENT, or environment="staging"
    api.get_client().get_boolean_value("feature.beta", False)
"""

from __future__ import annotations

import threading

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata

from . import runtime
from .runtime import flags
from .runtime.snapshots import store


class ConfigurationProvider(AbstractProvider):
    """Flags from this process's snapshot of ``environment`` (default: CONFIG_ENVIRONMENT)."""

    def __init__(self, environment: str | None = None):
        self.environment = environment
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get_metadata(self) -> Metadata:
        return Metadata(name="configurations")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Load the snapshot now, and follow it: a change emits PROVIDER_CONFIGURATION_CHANGED."""
        versions = dict(runtime.snapshot(self.environment).category_versions)
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow, args=(versions,), daemon=True, name="openfeature")
        self._thread.start()

    def shutdown(self) -> None:
        """Stop following the snapshot."""
        self._stop.set()
        with store.changed:
            store.changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _follow(self, versions: dict[str, int]) -> None:
        while not self._stop.is_set():
            with store.changed:
                store.changed.wait(timeout=1.0)
            if self._stop.is_set():
                return
            current = runtime.snapshot(self.environment)
            moved = sorted(c for c in set(versions) | set(current.category_versions)
                           if versions.get(c) != current.category_versions.get(c))  # fmt: skip
            if moved:
                versions = dict(current.category_versions)
                changed = [f"{c}.{k}" for c in moved for k in sorted(current.by_category.get(c, {}))]
                self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=changed))

    def _resolve(self, flag_key: str, default_value, expected: str) -> FlagResolutionDetails:
        try:
            found = flags.resolve(runtime.snapshot(self.environment), flag_key)
            value = float(found.value) if expected == "float" and isinstance(found.value, int) else found.value
            flags.check_type(value, expected)
        except flags.FlagError as error:
            return FlagResolutionDetails(
                value=default_value, reason=Reason.ERROR, error_code=ErrorCode(error.code), error_message=error.details
            )
        return FlagResolutionDetails(
            value=value, reason=Reason(found.reason), variant=found.variant,
            flag_metadata={"categoryVersion": found.version},
        )  # fmt: skip

    def resolve_boolean_details(self, flag_key, default_value, evaluation_context=None):
        return self._resolve(flag_key, default_value, "boolean")

    def resolve_string_details(self, flag_key, default_value, evaluation_context=None):
        return self._resolve(flag_key, default_value, "string")

    def resolve_integer_details(self, flag_key, default_value, evaluation_context=None):
        return self._resolve(flag_key, default_value, "integer")

    def resolve_float_details(self, flag_key, default_value, evaluation_context=None):
        return self._resolve(flag_key, default_value, "float")

    def resolve_object_details(self, flag_key, default_value, evaluation_context=None):
        return self._resolve(flag_key, default_value, "object")
