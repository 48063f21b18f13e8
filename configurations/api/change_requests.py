"""The API's change requests: list, open, read, approve, reject, apply (the services' rules, as the token's owner)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from .. import services
from ..data.models import ApiToken, ChangeRequest
from . import request_serializers as rs
from .problems import MEDIA_TYPE, ProblemSerializer, Unprocessable, problem, validation_errors
from .views import COMMON_HEADERS, ENV, PROBLEMS, ApiView, _field_errors, _require, _token

REQUEST_ID = OpenApiParameter("request_id", int, OpenApiParameter.PATH)
STATE_CONFLICT = OpenApiResponse(ProblemSerializer, description="The request is not in a state that allows it")


def location(request: ChangeRequest) -> str:
    """The request's URL in the API."""
    return reverse("api:change_request", args=[request.environment, request.pk])


def opened_response(opened: services.change_requests.Opened, status: int = 201) -> Response:
    """201 (or 202 for a write that became a request) with Location, the request and any overlap warnings."""
    body = {**rs.request_body(opened.request), "warnings": opened.overlapping}
    return Response(body, status=status, headers={"Location": location(opened.request)})


def _writer(request, environment: str) -> ApiToken:
    token = _token(request)
    _require(token, environment)
    if not token.can_write:
        raise exceptions.PermissionDenied(_("This token may only read."))
    return token


def _decided(call) -> Response:
    try:
        return Response(rs.request_body(call()))
    except ValidationError as error:
        if "state" in getattr(error, "message_dict", {}) or "apply_at" in getattr(error, "message_dict", {}):
            return problem(409, " ".join(m for ms in error.message_dict.values() for m in ms))
        raise Unprocessable(validation_errors(error, key="request")) from None


class ChangeRequestsView(ApiView):
    """GET an environment's change requests (newest first), or POST a new one (read-write tokens)."""

    @extend_schema(operation_id="list_change_requests", parameters=[ENV, *COMMON_HEADERS],
                   responses={200: rs.RequestSerializer(many=True), **PROBLEMS}, summary="Change requests")  # fmt: skip
    def get(self, request, environment: str):
        _require(_token(request), environment)
        found = ChangeRequest.objects.filter(environment=environment).select_related("author").order_by("-pk")[:200]
        return Response([rs.request_body(r) for r in found])

    @extend_schema(
        operation_id="open_change_request", parameters=[ENV, *COMMON_HEADERS], request=rs.RequestInSerializer,
        responses={201: rs.RequestSerializer, (422, MEDIA_TYPE): OpenApiResponse(ProblemSerializer), **PROBLEMS},
        summary="Open a change request (nothing live changes until it is approved and applied)",
    )  # fmt: skip
    def post(self, request, environment: str):
        token = _writer(request, environment)
        body = rs.RequestInSerializer(data=request.data)
        if not body.is_valid():
            raise Unprocessable(_field_errors(body.errors))
        data = body.validated_data
        for item in data["items"]:
            _require(token, environment, item["category"])
        items = [services.Deletion(i["category"], i["key"]) if i["delete"] else
                 services.Change(i["category"], i["key"], environment, i["value"]) for i in data["items"]]  # fmt: skip
        try:
            with transaction.atomic():
                opened = services.open_request(environment, items, title=data["title"], reason=data["reason"],
                                               apply_at=data["apply_at"], actor=token.owner)  # fmt: skip
                if not token.secrets and opened.request.items.filter(is_encrypted=True).exists():
                    refusal = _("This token may not write secrets (created without `secrets`).")
                    raise exceptions.PermissionDenied(refusal)
        except ValidationError as error:
            raise Unprocessable(validation_errors(error, key="items")) from None
        return opened_response(opened)


class ChangeRequestView(ApiView):
    """GET one change request (secrets in items never shown)."""

    @extend_schema(operation_id="change_request", parameters=[ENV, REQUEST_ID, *COMMON_HEADERS],
                   responses={200: rs.RequestSerializer, **PROBLEMS}, summary="A change request")  # fmt: skip
    def get(self, request, environment: str, request_id: str):
        _require(_token(request), environment)
        return Response(rs.request_body(_found(environment, request_id)))


def _found(environment: str, request_id: str) -> ChangeRequest:
    if not re.fullmatch(r"[0-9]{1,18}", str(request_id)):
        raise exceptions.NotFound(
            _("No change request %(id)r in %(environment)s.") % {"id": request_id, "environment": environment}
        )
    found = ChangeRequest.objects.filter(environment=environment, pk=int(request_id)).select_related("author").first()
    if found is None:
        raise exceptions.NotFound(
            _("No change request #%(id)s in %(environment)s.") % {"id": request_id, "environment": environment}
        )
    return found


def _action(operation: str, summary: str, call, body=None):
    class ActionView(ApiView):
        @extend_schema(operation_id=operation, parameters=[ENV, REQUEST_ID, *COMMON_HEADERS], request=body,
                       responses={200: rs.RequestSerializer, (409, MEDIA_TYPE): STATE_CONFLICT, **PROBLEMS},
                       summary=summary)  # fmt: skip
        def post(self, request, environment: str, request_id: str):
            token = _writer(request, environment)
            found = _found(environment, request_id)
            return _decided(lambda: call(found, token, request.data))

    ActionView.__name__ = ActionView.__qualname__ = f"{operation.title().replace('_', '')}View"
    ActionView.__doc__ = summary
    return ActionView


def _reject(found, token, data):
    body = rs.DecisionSerializer(data=data)
    if not body.is_valid():
        raise Unprocessable(_field_errors(body.errors))
    return services.reject(found, actor=token.owner, reason=body.validated_data["reason"])


ApproveView = _action("approve_change_request", "Approve a change request (as the token's owner)",
                      lambda found, token, data: services.approve(found, actor=token.owner))  # fmt: skip
RejectView = _action("reject_change_request", "Reject a change request, saying why", _reject, rs.DecisionSerializer)
ApplyView = _action("apply_change_request", "Apply an approved change request, all or nothing",
                    lambda found, token, data: services.apply_request(found, actor=token.owner))  # fmt: skip
