"""Request middleware that gives every configuration write its audit context."""

from __future__ import annotations

import contextlib

from django.db import connections

from . import runtime
from .data import audit


class AuditContextMiddleware:
    """The request's user, client IP and user agent become the default audit context."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with contextlib.ExitStack() as stack:
            stack.enter_context(
                audit.request_context(
                    # Lazy: the user is looked up only if the request writes.
                    actor=getattr(request, "user", None),
                    ip_address=audit.client_ip(request.META),
                    user_agent=request.META.get("HTTP_USER_AGENT"),
                )
            )
            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(audit.context_on_writes))
            return self.get_response(request)


class RuntimeSnapshotMiddleware:
    """Every configurations.runtime read during one request sees the same snapshot."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with runtime.pinned():
            return self.get_response(request)
