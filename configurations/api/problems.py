"""Errors as RFC 9457 problem details: ``application/problem+json`` with type, title, status and detail, and for
validation failures ``errors``: every problem, each with the key, the rule and a message for people."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from ..core.vocabulary import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE

MEDIA_TYPE = PROBLEM_MEDIA_TYPE
TYPE_BASE = PROBLEM_TYPE_BASE
# The title in English names the problem's type (its URI); the answer's title is in the client's language.
TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    503: "Service unavailable",
}
TRANSLATED_TITLES = {
    400: _("Bad request"),
    401: _("Not authenticated"),
    403: _("Forbidden"),
    404: _("Not found"),
    405: _("Method not allowed"),
    406: _("Not acceptable"),
    409: _("Conflict"),
    412: _("Precondition failed"),
    415: _("Unsupported media type"),
    422: _("Validation failed"),
    429: _("Too many requests"),
    503: _("Service unavailable"),
}


class PreconditionFailed(exceptions.APIException):
    """412: the If-Match ETag names a version the category has moved past."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _("The category changed since that ETag; read it again.")
    default_code = "precondition_failed"


class Unprocessable(exceptions.APIException):
    """422: the value breaks its key's rules."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("The value was not accepted; nothing was changed.")
    default_code = "validation_failed"

    def __init__(self, errors: list[dict[str, str]], detail: str | None = None) -> None:
        super().__init__(detail)
        self.errors = errors


class ProblemErrorSerializer(serializers.Serializer):
    """One problem of a 422: where and what."""

    key = serializers.CharField()
    rule = serializers.CharField()
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem details body (the OpenAPI schema of every error)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = ProblemErrorSerializer(many=True, required=False)


def problem(status_code: int, detail: str, *, errors: list | None = None, headers: dict | None = None) -> Response:
    """An RFC 9457 problem details response."""
    title = TITLES.get(status_code, "Error")
    body = {
        "type": TYPE_BASE + title.lower().replace(" ", "-"),
        "title": str(TRANSLATED_TITLES.get(status_code, title)),
        "status": status_code,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return Response(body, status=status_code, headers=headers, content_type=MEDIA_TYPE)


def validation_errors(error: DjangoValidationError, *, key: str) -> list[dict[str, str]]:
    """Every message of a Django ValidationError, each with the key it concerns and its rule (the error code)."""
    found = []
    if hasattr(error, "error_dict"):
        for where, items in error.error_dict.items():
            for item in items:
                found += validation_errors(item, key=key if "[" in where or where == "__all__" else where)
        return found
    for item in error.error_list:
        message = " ".join(str(m) for m in item.messages) if hasattr(item, "messages") else str(item)
        found.append({"key": key, "rule": item.code or "invalid", "message": message})
    return found


def handle(exc, context):
    """DRF's handler, then reshaped: every API error is a problem document, never an HTML page."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real error: Django's 500 handling (logged, cleansed)
    errors = getattr(exc, "errors", None)
    if isinstance(exc, exceptions.ValidationError):
        errors = _drf_errors(exc.detail)
        response.status_code = 422
        detail = str(_("The request was not accepted; nothing was changed."))
    elif isinstance(exc.detail, dict | list):
        detail = str(exc.default_detail)
    else:
        detail = str(exc.detail)
    headers = {name: value for name, value in response.items() if name in ("WWW-Authenticate", "Retry-After", "Allow")}
    return problem(response.status_code, detail, errors=errors, headers=headers)


def _drf_errors(detail, where: str = "body") -> list[dict[str, str]]:
    if isinstance(detail, dict):
        return [e for name, value in detail.items() for e in _drf_errors(value, name)]
    if isinstance(detail, list):
        return [e for value in detail for e in _drf_errors(value, where)]
    return [{"key": where, "rule": getattr(detail, "code", None) or "invalid", "message": str(detail)}]


def unknown_resource(request, *args, **kwargs) -> JsonResponse:
    """Any other URL under the API: a 404 problem document, never Django's HTML page."""
    detail = _("No API resource at %(path)s; the operations are listed at /api/v1/docs/.") % {"path": request.path}
    body = {"type": f"{TYPE_BASE}not-found", "title": str(TRANSLATED_TITLES[404]), "status": 404,
            "detail": str(detail)}  # fmt: skip
    return JsonResponse(body, status=404, content_type=MEDIA_TYPE)
