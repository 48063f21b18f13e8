"""Writes and typed reads of configurations: the public service contract.

Everything that changes configurations (the admin, templates, imports, commands, scripts) calls
these functions; they validate with the one engine (``validation``), type with ``values``, encrypt
secrets with ``crypto`` and write inside one transaction with the audit context, so the history
triggers record who, why and from where. Names and keyword arguments here are stable; the modules
behind them are not part of the contract.
"""

from ..core.vocabulary import SECRET_MASK, ConfigurationNotFound, label
from ..data.audit import audit_context, request_context
from .change_requests import Deletion, Opened, approve, cancel, edit_items, open_request, reject, submit
from .changes import (
    Change,
    PlannedChange,
    copy_changes,
    deactivate,
    get_value,
    lock_category,
    plaintext,
    plan_changes,
    typed_value,
    value_and_source,
)
from .deletion import delete_configurations
from .email import send_test_email
from .integrity import ChainReport, Finding, parse_head, verify_history
from .keys import RotationReport, rotate_encryption_keys
from .request_apply import apply_due, apply_request
from .reviews import ReviewRequired, bypassing, needs_request, policy, set_policy
from .rules import delete_rules, save_rule
from .templates import TemplateApplication, apply_template, plan_template, secret_variables, template_changes
from .trail import ArchiveReport, NothingToRollBack, archive_history, rollback, rollback_item
from .transfer import (
    ImportRejected,
    ImportReport,
    export_items,
    import_as_requests,
    import_records,
    known_env_names,
)
from .versions import StaleVersion, category_version, check_version
from .writes import apply_changes, copy_values, set_value

__all__ = [
    "SECRET_MASK",
    "ArchiveReport",
    "ChainReport",
    "Change",
    "ConfigurationNotFound",
    "Deletion",
    "Finding",
    "ImportRejected",
    "ImportReport",
    "NothingToRollBack",
    "Opened",
    "PlannedChange",
    "ReviewRequired",
    "RotationReport",
    "StaleVersion",
    "TemplateApplication",
    "apply_changes",
    "apply_due",
    "apply_request",
    "apply_template",
    "approve",
    "archive_history",
    "audit_context",
    "bypassing",
    "cancel",
    "category_version",
    "check_version",
    "copy_changes",
    "copy_values",
    "deactivate",
    "delete_configurations",
    "delete_rules",
    "edit_items",
    "export_items",
    "get_value",
    "import_as_requests",
    "import_records",
    "known_env_names",
    "label",
    "lock_category",
    "needs_request",
    "open_request",
    "parse_head",
    "plaintext",
    "plan_changes",
    "plan_template",
    "policy",
    "reject",
    "request_context",
    "rollback",
    "rollback_item",
    "rotate_encryption_keys",
    "save_rule",
    "secret_variables",
    "send_test_email",
    "set_policy",
    "set_value",
    "submit",
    "template_changes",
    "typed_value",
    "value_and_source",
    "verify_history",
]
