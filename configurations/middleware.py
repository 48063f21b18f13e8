"""Request middleware that gives every configuration write its audit context."""

from __future__ import annotations

import contextlib
import logging
import time

from django.db import connections

from . import runtime
from .core import metrics, requestlog
from .data import audit

logger = logging.getLogger("configurations.requests")
_AREAS = (("/admin/", "admin"), ("/api/", "api"))


class RequestObservabilityMiddleware:
    """A request id (``X-Request-ID`` in and out), one log line per request, its latency in ``/metrics``, and the
    entry point that writes inside it are counted under. Logs the path without its query string, never a body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        area = next((name for prefix, name in _AREAS if request.path.startswith(prefix)), None)
        if area is None:  # health checks and metrics: not logged, not timed, probed every second
            return self.get_response(request)
        request_id = requestlog.new_request_id(request.headers.get("X-Request-ID"))
        token = requestlog.bind(request_id)
        started = time.perf_counter()
        try:
            with metrics.write_path(area):
                response = self.get_response(request)
            elapsed = time.perf_counter() - started
            metrics.REQUEST_SECONDS.labels(area=area, method=request.method, status=response.status_code).observe(
                elapsed
            )
            response["X-Request-ID"] = request_id
            logger.info(
                "%s %s %s %.1fms",
                request.method,
                request.path,
                response.status_code,
                elapsed * 1000,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "user_id": str(getattr(getattr(request, "user", None), "pk", "") or ""),
                },
            )
            return response
        finally:
            requestlog.unbind(token)


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
