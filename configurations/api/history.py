"""The API's key history: a key's changes, newest first, in keyset pages, secrets as markers."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from ..services import history
from . import serializers as s
from .views import CATEGORY, COMMON_HEADERS, ENV, KEY, PROBLEMS, ApiView, _require, _token


class KeyHistoryView(ApiView):
    """GET a key's history, newest first, a page at a time."""

    query_parameters = frozenset({"before", "limit"})

    @extend_schema(
        operation_id="key_history",
        parameters=[ENV, CATEGORY, KEY, s.HistoryQuerySerializer, *COMMON_HEADERS],
        responses={200: s.HistoryPageSerializer, **PROBLEMS},
        summary="A key's history, newest first (keyset pages; secrets masked)",
    )
    def get(self, request, environment: str, category: str, key: str):
        token = _token(request)
        _require(token, environment, category)
        query = s.HistoryQuerySerializer(data=request.query_params.dict())
        if not query.is_valid():
            raise exceptions.ParseError(_("before is a cursor from `next`, limit 1 to 100."))
        filters = history.HistoryFilters(environment=environment, category=category, key=key)
        try:
            entries, next_cursor = history.page(
                filters, before=query.validated_data.get("before"), size=query.validated_data["limit"]
            )
        except history.InvalidCursor as error:
            raise exceptions.ParseError(f"{error}.") from None
        results = [
            {
                "id": entry.row.id,
                "action": entry.row.action,
                "change": entry.change,
                "rolled_back_to": entry.restored_id,
                "change_request": entry.change_request_id,
                "is_secret": entry.is_secret,
                "old_value": entry.old,
                "new_value": entry.new,
                "changed_by": entry.row.changed_by.get_username() if entry.row.changed_by else None,
                "change_reason": entry.row.change_reason,
                "created_at": entry.row.created_at,
            }
            for entry in entries
        ]
        return Response(s.HistoryPageSerializer({"results": results, "next": next_cursor}).data)
