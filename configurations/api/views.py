"""The API's views: thin, over the runtime snapshots (reads) and the services (writes). docs/api.md."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.http import parse_etags
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import conf, runtime, services
from ..core import validation
from ..core.validation import MAX_CATEGORY_LENGTH, MAX_KEY_LENGTH, NAME_RULE_SQL
from ..core.vocabulary import ENVIRONMENTS, EnvironmentPermissionDenied
from ..data.models import ApiToken
from ..runtime.snapshots import Undecryptable
from ..services import api_writes, permissions
from . import deferred, request_serializers, waits
from . import serializers as s
from .changes import Changes
from .problems import MEDIA_TYPE, PreconditionFailed, ProblemSerializer, Unprocessable, validation_errors

OUT_OF_SCOPE = _("This token does not cover this resource.")
PROBLEMS = {
    (status, MEDIA_TYPE): OpenApiResponse(ProblemSerializer, description=description)
    for status, description in {
        400: "Malformed request",
        401: "No valid bearer token",
        403: "Outside the token's scope or the owner's permissions",
        404: "Nothing there within the scope",
        429: "Rate limit of the token reached, or too many long polls waiting (see Retry-After)",
        503: "The database is unreachable and the answer needs it (see Retry-After)",
    }.items()
}
NOT_MODIFIED = OpenApiResponse(description="Not modified: the If-None-Match ETag is current")
_HEADER = OpenApiParameter.HEADER
# Response headers every operation may send, declared so that generated clients can read them.
COMMON_HEADERS = [
    OpenApiParameter("WWW-Authenticate", str, _HEADER, response=[401], description='Bearer realm="configurations"'),
    OpenApiParameter("Retry-After", int, _HEADER, response=[429, 503], description="Seconds to wait before retrying"),
    OpenApiParameter(
        "X-Config-Stale", int, _HEADER, response=[200, 304],
        description="Only while the database is unreachable: the answer is the snapshot of this many seconds ago",
    ),
]  # fmt: skip
ETAG = OpenApiParameter(
    "ETag", str, _HEADER, response=[200, 304],
    description='Strong: "c<version>.m" for a category ("e<fingerprint>.m" for an environment); ".s" instead of ".m" '
    "when secrets are revealed",
)  # fmt: skip
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", str, _HEADER, description="An ETag from an earlier answer: 304 with no body if it is current"
)
IF_MATCH = OpenApiParameter(
    "If-Match", str, _HEADER, description='The category GET\'s ETag: 412 if the category changed since; "*" any'
)
ENV = OpenApiParameter("environment", str, OpenApiParameter.PATH, enum=list(ENVIRONMENTS))
_NAME = {"type": "string", "pattern": NAME_RULE_SQL.replace("\\Z", "$")}
CATEGORY = OpenApiParameter("category", {**_NAME, "maxLength": MAX_CATEGORY_LENGTH}, OpenApiParameter.PATH)
KEY = OpenApiParameter("key", {**_NAME, "maxLength": MAX_KEY_LENGTH}, OpenApiParameter.PATH)


def _token(request) -> ApiToken:
    return request.auth


def _require(token: ApiToken, environment: str, category: str | None = None) -> None:
    if not token.covers(environment, category):
        raise exceptions.PermissionDenied(OUT_OF_SCOPE)


def _reveals(token: ApiToken, environment: str) -> bool:
    """Secrets leave an environment only at the hands of someone who may edit it: the owner, checked now."""
    return token.secrets and permissions.may_edit(token.owner, environment)


def _category_body(snapshot, category: str, reveal: bool) -> dict:
    secret_keys = snapshot.secret_keys(category)
    hidden = set(secret_keys)
    values = {}
    for key, value in snapshot.by_category.get(category, {}).items():
        if isinstance(value, Undecryptable) or (key in hidden and not reveal):
            value = None
        values[key] = value
    return {
        "environment": snapshot.environment,
        "category": category,
        "version": snapshot.category_version(category),
        "values": values,
        "sources": {key: snapshot.source(category, key) for key in values},
        "secret_keys": secret_keys,
    }


def _not_modified(request, etag: str) -> bool:
    given = request.headers.get("If-None-Match")
    if not given:
        return False
    tags = parse_etags(given)
    return "*" in tags or etag in tags or f"W/{etag}" in tags


def conditional(request, body_or_none, etag: str) -> Response:
    """200 with the body ``body_or_none()`` builds and the ETag, or 304 when If-None-Match names the ETag."""
    if _not_modified(request, etag):
        return Response(status=304, headers={"ETag": etag})
    return Response(body_or_none(), headers={"ETag": etag})


def category_etag(version: int, reveal: bool, defaults_version: int | None = None) -> str:
    """A category's ETag: its version, the metadata version of its defaults (if it declares any: a changed default
    changes the answer), and whether secrets were shown."""
    defaults = "" if defaults_version is None else f".d{defaults_version}"
    return f'"c{version}{defaults}.{"s" if reveal else "m"}"'


def _versions_from(if_match: str) -> set[int] | None:
    """The category versions an If-Match names (None: no condition; ``*``: any)."""
    tags = parse_etags(if_match)
    if "*" in tags:
        return None
    versions = set()
    for tag in tags:
        inner = tag.strip('"')
        if inner.startswith("c") and "." in inner and inner[1:].split(".", 1)[0].isdigit():
            versions.add(int(inner[1:].split(".", 1)[0]))
    return versions


STALE_HEADER = "X-Config-Stale"


class ApiView(APIView):
    """Unknown query parameters are refused (400), not ignored: a misspelt ``since`` would otherwise be silent."""

    query_parameters: frozenset[str] = frozenset()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        names = {what: kwargs[what] for what in ("category", "key") if what in kwargs}
        problems = validation.name_problems(**names)
        if problems:
            if request.method == "PUT":
                raise Unprocessable([{"key": kwargs.get("key", ""), "rule": "name", "message": p} for p in problems])
            raise exceptions.NotFound(_("No configuration can have that name."))
        unknown = sorted(set(request.query_params) - self.query_parameters)
        if unknown:
            raise exceptions.ParseError(
                f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}."
            )
        repeated = sorted(name for name, given in request.query_params.lists() if len(given) > 1)
        if repeated:
            raise exceptions.ParseError(
                _("Each query parameter may be given once: %(names)s was repeated.") % {"names": ", ".join(repeated)}
            )

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        stale = runtime.stale_for()
        if stale is not None:
            # The database is unreachable: this answer comes from the snapshot as it was that many seconds ago.
            response[STALE_HEADER] = str(int(stale))
        return response


class ConfigurationsView(ApiView):
    """GET every category the token may read in an environment."""

    @extend_schema(
        operation_id="configurations",
        parameters=[ENV, IF_NONE_MATCH, ETAG, *COMMON_HEADERS],
        responses={200: s.ConfigurationsSerializer, 304: NOT_MODIFIED, **PROBLEMS},
        summary="Every category of the environment that the token covers",
    )
    def get(self, request, environment: str):
        token = _token(request)
        _require(token, environment)
        snapshot = runtime.current_snapshot(environment)
        reveal = _reveals(token, environment)
        names = sorted(c for c in snapshot.by_category if token.covers(environment, c))
        versions = [(c, snapshot.category_version(c), snapshot.defaults_of(c)) for c in names]
        fingerprint = hashlib.sha256(repr(versions).encode()).hexdigest()[:20]
        etag = f'"e{fingerprint}.{"s" if reveal else "m"}"'

        def body():
            return {
                "environment": environment,
                "version": max((v for _, v, _ in versions), default=0),
                "categories": {c: _category_body(snapshot, c, reveal) for c in names},
            }

        return conditional(request, body, etag)


class CategoryView(ApiView):
    """GET one category's values (ETag, If-None-Match)."""

    @extend_schema(
        operation_id="category",
        parameters=[ENV, CATEGORY, IF_NONE_MATCH, ETAG, *COMMON_HEADERS],
        responses={200: s.CategoryValuesSerializer, 304: NOT_MODIFIED, **PROBLEMS},
        summary="One category's typed values",
    )
    def get(self, request, environment: str, category: str):
        token = _token(request)
        _require(token, environment, category)
        snapshot = runtime.current_snapshot(environment)
        if category not in snapshot.by_category:
            raise exceptions.NotFound(_("No active configuration in %(category)s [%(environment)s].")
                                      % {"category": category, "environment": environment})  # fmt: skip
        reveal = _reveals(token, environment)
        etag = category_etag(snapshot.category_version(category), reveal, snapshot.defaults_of(category))
        return conditional(request, lambda: _category_body(snapshot, category, reveal), etag)


class ChangesView(ApiView):
    """GET what changed since a version, waiting up to wait seconds for a change (a long poll)."""

    query_parameters = frozenset({"since", "wait"})

    @extend_schema(
        operation_id="changes",
        parameters=[ENV, s.ChangesQuerySerializer, *COMMON_HEADERS],
        responses={
            200: s.ChangesSerializer,
            304: OpenApiResponse(description="Nothing changed within `wait`"),
            **PROBLEMS,
        },
        summary="Long poll: the categories changed after `since`",
    )
    def get(self, request, environment: str):
        token = _token(request)
        _require(token, environment)
        query = s.ChangesQuerySerializer(data=request.query_params.dict())
        if not query.is_valid():
            raise exceptions.ParseError(_("since is a version (a whole number) and wait 0 to 60 seconds."))
        changes = Changes(token, environment, query.validated_data.get("since"))
        if changes.since is None:
            return Response(changes.answer(runtime.current_snapshot(environment))[1])
        wait = min(query.validated_data["wait"], conf.api_max_wait())
        snapshot = runtime.current_snapshot(environment)
        if wait > 0 and not changes.changed(snapshot):
            placeholder = deferred.defer(request, token.pk, environment, changes.changed, changes.answer, wait)
            if placeholder is not None:
                return placeholder  # under ASGI the event loop waits (api/deferred.py)
            with waits.slots.held(token.pk):
                snapshot = runtime.wait_for(environment, changes.changed, wait)
        status, body = changes.answer(snapshot)
        return Response(body, status=status)


class KeyView(ApiView):
    """GET or PUT one key (If-Match against the category's version)."""

    @extend_schema(
        operation_id="key",
        parameters=[ENV, CATEGORY, KEY, IF_NONE_MATCH, ETAG, *COMMON_HEADERS],
        responses={200: s.KeyReadSerializer, 304: NOT_MODIFIED, **PROBLEMS},
        summary="One key's typed value (its metadata's default while none is set)",
    )
    def get(self, request, environment: str, category: str, key: str):
        token = _token(request)
        _require(token, environment, category)
        snapshot = runtime.current_snapshot(environment)
        source = snapshot.source(category, key)
        if source is None:
            raise exceptions.NotFound(_("No value and no default for %(category)s.%(key)s [%(environment)s].")
                                      % {"category": category, "key": key, "environment": environment})  # fmt: skip
        reveal = _reveals(token, environment)
        etag = category_etag(snapshot.category_version(category), reveal, snapshot.defaults_of(category))

        def body():
            secret = (category, key) in snapshot.secret
            value = snapshot.by_category[category][key]
            if isinstance(value, Undecryptable) or (secret and not reveal):
                value = None
            return {"environment": environment, "category": category, "key": key, "value": value, "secret": secret,
                    "source": source, "version": snapshot.category_version(category)}  # fmt: skip

        return conditional(request, body, etag)

    @extend_schema(
        operation_id="write_key",
        parameters=[ENV, CATEGORY, KEY, IF_MATCH, ETAG, *COMMON_HEADERS],
        request=s.KeyWriteSerializer,
        responses={
            200: s.KeyValueSerializer,
            202: OpenApiResponse(
                request_serializers.RequestSerializer,
                description="The environment needs review: a change request was opened (Location)",
            ),
            (412, MEDIA_TYPE): OpenApiResponse(ProblemSerializer, description="The category changed since"),
            (422, MEDIA_TYPE): OpenApiResponse(ProblemSerializer, description="Every validation problem"),
            **PROBLEMS,
        },
        summary="Write one value (read-write tokens)",
    )
    def put(self, request, environment: str, category: str, key: str):
        token = _token(request)
        _require(token, environment, category)
        if not token.can_write:
            raise exceptions.PermissionDenied(_("This token may only read."))
        body = s.KeyWriteSerializer(data=request.data)
        if not body.is_valid():
            raise Unprocessable(_field_errors(body.errors))
        if_match = request.headers.get("If-Match")
        try:
            plan, version = api_writes.write_key(
                token=token,
                environment=environment,
                category=category,
                key=key,
                value=body.validated_data["value"],
                reason=body.validated_data.get("reason"),
                expected_versions=_versions_from(if_match) if if_match else None,
            )
        except services.ReviewRequired:
            return _requested(token, environment, category, key, body.validated_data)
        except api_writes.StaleVersion:
            raise PreconditionFailed() from None
        except (EnvironmentPermissionDenied, api_writes.SecretWriteRefused) as error:
            raise exceptions.PermissionDenied(str(error)) from None
        except ValidationError as error:
            raise Unprocessable(validation_errors(error, key=key)) from None
        reveal = _reveals(token, environment)
        value = None if plan.secret else services.typed_value(plan.row)  # a secret written is never echoed
        result = {
            "environment": environment,
            "category": category,
            "key": key,
            "value": value,
            "version": version,
            "changed": plan.writes,
        }
        defaults = runtime.current_snapshot(environment).defaults_of(category)
        return Response(result, headers={"ETag": category_etag(version, reveal, defaults)})


def _requested(token: ApiToken, environment: str, category: str, key: str, data: dict) -> Response:
    """The environment needs review: the write becomes a change request (202, Location: the request)."""
    change = services.Change(category, key, environment, data["value"])
    try:
        opened = services.open_request(environment, [change], title=f"API write of {category}.{key}",
                                       reason=data.get("reason") or "", actor=token.owner)  # fmt: skip
    except ValidationError as error:
        raise Unprocessable(validation_errors(error, key=key)) from None
    body = {**request_serializers.request_body(opened.request), "warnings": opened.overlapping}
    where = reverse("api:change_request", args=[environment, opened.request.pk])
    return Response(body, status=202, headers={"Location": where})


def _field_errors(errors: dict) -> list[dict[str, str]]:
    return [
        {"key": field, "rule": getattr(message, "code", "invalid"), "message": str(message)}
        for field, messages in errors.items()
        for message in messages
    ]
