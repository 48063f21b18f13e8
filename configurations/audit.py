"""Public path of the audit context: ``from configurations.audit import audit_context``.

The code lives in ``configurations.data.audit``; this module only re-exports its public names.
"""

from .data.audit import AuditContext, audit_context, client_ip, current, request_context

__all__ = ["AuditContext", "audit_context", "client_ip", "current", "request_context"]
