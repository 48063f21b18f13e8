"""Metadata and templates, the rules of every environment: changed only by those who may edit them all.

The database records each change (data/triggers/records.py); these wrap it in the audit context so the record
says who and why, and refuse an actor without every ``edit_<environment>`` permission.
"""

from __future__ import annotations

from ..core.vocabulary import ENVIRONMENTS
from ..data.audit import audit_context
from ..data.models import ConfigurationMetadata, ConfigurationTemplate
from . import permissions


def save_rule(obj: ConfigurationMetadata | ConfigurationTemplate, *, reason: str | None = None, actor=None) -> None:
    """Save a metadata or template row (the model validates it), recorded with the actor and the reason."""
    permissions.require_edit_each(actor, ENVIRONMENTS, doing="change the rules of")
    with audit_context(actor=actor, reason=reason):
        obj.save()


def delete_rules(queryset, *, reason: str | None = None, actor=None) -> int:
    """Delete metadata or template rows in one transaction, each recorded; how many."""
    permissions.require_edit_each(actor, ENVIRONMENTS, doing="change the rules of")
    with audit_context(actor=actor, reason=reason):
        deleted, _ = queryset.delete()
    return deleted
