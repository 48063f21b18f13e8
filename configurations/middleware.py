"""Request middleware: observability, the audit context of every write, one snapshot per request, and 503 (not
an HTML 500 with a traceback per request) while the database is unreachable."""

from __future__ import annotations

import contextlib
import logging
import time

from django.db import connections
from django.http import HttpResponse, JsonResponse
from django.utils.functional import empty
from django.utils.translation import gettext_lazy as _

from . import runtime
from .core.vocabulary import PENDING_HEADER, PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE
from .data import audit, availability
from .observability import metrics, requestlog

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
            if response.has_header(PENDING_HEADER):  # a deferred long poll: api/deferred.py observes its end
                response["X-Request-ID"] = request_id
                return response
            if area == "api" and request.path.endswith("/changes/") and "since" in request.GET:
                # A long poll's time is mostly its wait: kept apart, it does not drown the latencies.
                metrics.LONG_POLL_SECONDS.labels(status=response.status_code).observe(elapsed)
            else:
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
                    "user_id": _user_id(request),
                },
            )
            return response
        finally:
            requestlog.unbind(token)


def _user_id(request) -> str:
    """The user's id if the request already looked the user up; a log line never queries (nor fails) for it."""
    user = getattr(request, "user", None)
    if getattr(user, "_wrapped", None) is empty:
        return ""
    return str(getattr(user, "pk", "") or "")


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


class DatabaseOutageMiddleware:
    """A view that needs the database while it is unreachable answers 503 with ``Retry-After``: problem+json for
    the API, a short page elsewhere. The outage is logged once when it starts (data/availability.py), not per
    request; the 503s are not logged as server errors."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        """A database outage during a request: 503 with Retry-After, problem+json or HTML."""
        if not availability.is_outage(exception):
            return None
        availability.failed(exception)
        detail = str(_("The database is unreachable; nothing was read or changed. Try again shortly."))
        if request.path.startswith("/api/"):
            body = {"type": PROBLEM_TYPE_BASE + "service-unavailable", "title": "Service unavailable",
                    "status": 503, "detail": detail}  # fmt: skip
            response = JsonResponse(body, status=503, content_type=PROBLEM_MEDIA_TYPE)
        else:
            response = HttpResponse(
                f"<!doctype html><title>Service unavailable</title><h1>Service unavailable</h1><p>{detail}</p>",
                status=503,
            )
        response["Retry-After"] = str(availability.RETRY_AFTER)
        response._has_been_logged = True
        return response
