"""OpenFeature Remote Evaluation Protocol (OFREP, https://openfeature.dev/specification/appendix-c): flags for services
in any language through the unmodified OpenFeature providers (docs/openfeature.md).

- ``POST /ofrep/v1/evaluate/flags/{category.key}``: one flag; ``POST /ofrep/v1/evaluate/flags``: every flag the
  token may read in its environment (``ETag``; ``If-None-Match`` answers 304); ``GET /ofrep/v1/configuration``.
- Authentication: the API's bearer tokens, with their scopes and rate limit (429 with ``Retry-After``). The
  environment is the token's; a token of several takes it from the evaluation context's ``environment``
  (``INVALID_CONTEXT`` without one, or with one outside its scope).
- Answers follow OFREP's shapes (runtime/flags.py resolves): 200 ``{key, value, reason, variant, metadata}``;
  404 ``FLAG_NOT_FOUND`` (unknown keys, keys outside the token's categories, and secrets, which are never
  evaluated); 400 ``INVALID_CONTEXT``/``PARSE_ERROR``; 401 and 403 as the protocol expects.
"""

from __future__ import annotations

import hashlib

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import runtime
from ..runtime import flags
from .problems import handle as problem_handler
from .views import conditional


def _error(status: int, code: str | None, details: str, key: str | None = None, headers=None) -> Response:
    body = {"errorDetails": details} | ({"errorCode": code} if code else {}) | ({"key": key} if key else {})
    return Response(body, status=status, headers=headers)


def _ofrep_errors(exc, context):
    """OFREP's error bodies for what DRF raises (authentication, throttling, a body that is not JSON)."""
    if isinstance(exc, flags.FlagError):
        status = 404 if exc.code == flags.FLAG_NOT_FOUND else 400
        return _error(status, exc.code, exc.details, context["kwargs"].get("key"))
    if isinstance(exc, exceptions.ParseError):
        return _error(400, "PARSE_ERROR", str(exc.detail), context["kwargs"].get("key"))
    response = problem_handler(exc, context)
    if response is None:
        return None
    headers = {name: value for name, value in response.items() if name in ("WWW-Authenticate", "Retry-After")}
    return _error(response.status_code, None, str(getattr(exc, "detail", "")), headers=headers)


class OfrepView(APIView):
    """The API's authentication, permission and rate limit, with OFREP's error bodies."""

    schema = None  # OFREP's own OpenAPI document describes these paths; ours stays the API's

    def get_exception_handler(self):
        return _ofrep_errors

    def _context(self, request) -> dict:
        context = request.data.get("context", {}) if isinstance(request.data, dict) else None
        if not isinstance(context, dict):
            raise flags.FlagError(flags.INVALID_CONTEXT, 'the body must be {"context": {...}}')
        return context

    def _environment(self, request) -> str:
        """The token's environment, or the context's ``environment`` for a token of several."""
        token, context = request.auth, self._context(request)
        if len(token.environments) == 1 and "environment" not in context:
            return token.environments[0]
        wanted = context.get("environment")
        if not isinstance(wanted, str) or wanted not in token.environments:
            raise flags.FlagError(
                flags.INVALID_CONTEXT,
                f"give the context an environment among this token's: {', '.join(token.environments)}",
            )
        return wanted


def _in_scope(token, category: str) -> bool:
    return not token.categories or category in token.categories


def _body(found: flags.Resolution) -> dict:
    return {
        "key": found.key, "value": found.value, "reason": found.reason, "variant": found.variant,
        "metadata": {"categoryVersion": found.version},
    }  # fmt: skip


class EvaluateFlagView(OfrepView):
    """One flag: ``category.key``."""

    def post(self, request, key: str):
        environment = self._environment(request)
        category, _ = flags.split(key)
        if not _in_scope(request.auth, category):
            raise flags.FlagError(flags.FLAG_NOT_FOUND, f"No flag {key} in {environment}")
        found = flags.resolve(runtime.current_snapshot(environment), key)
        return Response(_body(found) | {"cacheable": False})


class EvaluateFlagsView(OfrepView):
    """Every flag the token may read in its environment, with an ETag over their versions."""

    def post(self, request):
        environment, token = self._environment(request), request.auth
        snapshot = runtime.current_snapshot(environment)
        found = flags.resolve_all(snapshot, token.categories or None)
        versions = sorted({(f.key.split(".", 1)[0], f.version) for f in found})
        fingerprint = f"{environment}|{snapshot.defaults_version}|{versions}".encode()
        etag = f'"f{hashlib.sha256(fingerprint).hexdigest()[:32]}"'
        return conditional(request, lambda: {"flags": [_body(f) for f in found]}, etag)


class ConfigurationView(OfrepView):
    """OFREP's provider configuration: what this server supports."""

    def get(self, request):
        return Response({
            "name": "configurations",
            "capabilities": {
                "cacheInvalidation": {"polling": {"enabled": True, "minPollingIntervalMs": 1000}},
                "flagEvaluation": {"supportedTypes": ["int", "float", "string", "boolean", "object"]},
            },
        })  # fmt: skip
