"""Bearer tokens: who is asking (the token's owner), what the token covers, and how often it may ask."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from .. import conf
from ..data.models import ApiToken
from ..services import tokens

INVALID = "The bearer token is unknown, expired or revoked."


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>``: one query (the token with its owner). Anything else is a 401."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        if len(header) != 2 or header[0].lower() != b"bearer":
            raise exceptions.AuthenticationFailed(_("Send the token as: Authorization: Bearer <token>."))
        try:
            plaintext = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(INVALID) from None
        token = tokens.presented(plaintext)
        if token is None:
            raise exceptions.AuthenticationFailed(INVALID)
        owner = token.owner if ApiToken.owner.is_cached(token) else Owner(token.owner_id)
        ApiToken.owner.field.set_cached_value(token, owner)  # token.owner is that same (lazy) owner: one load at most
        return owner, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="configurations"'


class Owner(SimpleLazyObject):
    """The token's owner, loaded from the database only when something needs more than the id (a write, a check
    of the owner's permissions): a read costs no query."""

    def __init__(self, owner_id) -> None:
        super().__init__(lambda: _load(owner_id))
        self.__dict__["_owner_id"] = owner_id

    @property
    def pk(self):
        return self.__dict__["_owner_id"]

    id = pk
    is_authenticated = True


class HasToken(BasePermission):
    """Every API view needs a bearer token (authentication says which)."""

    message = "A bearer token is required."

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiToken):
            raise exceptions.NotAuthenticated(self.message)
        return True


class TokenRateThrottle(SimpleRateThrottle):
    """Per token (``CONFIG_API_RATE``, e.g. ``1200/min``), in Django's cache: per process with the default local
    memory cache, shared with a shared cache (docs/api.md)."""

    scope = "token"

    def get_rate(self):
        return conf.api_rate()

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
        return self.cache_format % {"scope": "anonymous", "ident": self.get_ident(request)}


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The schema's security scheme for BearerTokenAuthentication."""

    target_class = BearerTokenAuthentication
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API token (create_api_token)"}


def _load(owner_id):
    """The owner with their permissions, in one query (services.tokens.owner_of)."""
    owner = tokens.owner_of(owner_id)
    if owner is None:
        raise get_user_model().DoesNotExist(f"no user {owner_id}")
    return owner
