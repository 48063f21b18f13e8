"""API tokens: created with a scope, shown once, stored as a digest, revoked by name (docs/api.md).

A token acts as its owner and can never do more than the owner: a read-write token, or one that returns
secrets, needs an owner who may edit every environment of its scope (a secret may leave an environment only at
the hands of someone who may edit it), and every write through it goes through the services with the owner as
the actor, so the owner's permissions are checked again at each request.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import secrets as random
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from .. import runtime
from ..core import validation
from ..core.vocabulary import ENVIRONMENTS
from ..data import accounts, availability
from ..data.models import ApiToken
from . import permissions

PREFIX = "cfg_"
MAX_DAYS = 3650
LAST_USED_EVERY = datetime.timedelta(seconds=60)  # at most one write per token per minute for "last used"


@dataclasses.dataclass(frozen=True)
class CreatedToken:
    """A new token and its plaintext, shown once."""

    token: ApiToken
    plaintext: str  # shown once; never stored, logged or rendered again


def digest(plaintext: str) -> str:
    """Tokens are 256 random bits: a plain SHA-256 is a sufficient, constant-cost digest (no salt needed)."""
    return hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(
    *,
    name: str,
    owner,
    environments: Sequence[str],
    categories: Sequence[str] = (),
    write: bool = False,
    secrets: bool = False,
    expires_in_days: int | None = None,
    actor=None,
) -> CreatedToken:
    """Validate everything first (every problem at once, by field), then create the token."""
    name, environments, categories = (name or "").strip(), sorted(set(environments)), sorted(set(categories))
    errors = token_problems(
        name=name, owner=owner, environments=environments, categories=categories, write=write, secrets=secrets,
        expires_in_days=expires_in_days, actor=actor,
    )  # fmt: skip
    if errors:
        raise ValidationError(errors)
    plaintext = PREFIX + random.token_urlsafe(32)
    expires_at = timezone.now() + datetime.timedelta(days=expires_in_days) if expires_in_days else None
    token = ApiToken.objects.create(
        name=name,
        owner=owner,
        token_hash=digest(plaintext),
        prefix=plaintext[: len(PREFIX) + 6],
        environments=environments,
        categories=categories,
        access=ApiToken.Access.READ_WRITE if write else ApiToken.Access.READ,
        secrets=secrets,
        expires_at=expires_at,
    )
    return CreatedToken(token, plaintext)


def token_problems(
    *, name, owner, environments, categories, write, secrets, expires_in_days, actor=None
) -> dict[str, list[str]]:
    """Every reason the token cannot be created, by field (empty: it can)."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name or len(name) > 100:
        errors.setdefault("name", []).append("A token needs a name of 1 to 100 characters.")
    elif ApiToken.objects.filter(name=name).exists():
        errors.setdefault("name", []).append(f"A token named {name!r} exists already.")
    if not environments:
        errors.setdefault("environments", []).append("A token needs at least one environment.")
    unknown = [env for env in environments if env not in ENVIRONMENTS]
    if unknown:
        errors.setdefault("environments", []).append(
            f"Unknown environment {', '.join(map(repr, unknown))}: one of {', '.join(ENVIRONMENTS)}."
        )
    for category in categories:
        for problem in validation.name_problems(category=category):
            errors.setdefault("categories", []).append(f"{category!r}: {problem}.")
    if expires_in_days is not None and not (isinstance(expires_in_days, int) and 1 <= expires_in_days <= MAX_DAYS):
        errors.setdefault("expires_in_days", []).append(f"The expiry is 1 to {MAX_DAYS} days.")
    if owner is None or not owner.is_active:
        errors.setdefault("owner", []).append("A token needs an active owner.")
    elif (write or secrets) and not unknown:
        refused = [env for env in environments if not permissions.can_edit(owner, env)]
        if refused:
            what = "write" if write else "return secrets"
            errors.setdefault("owner", []).append(
                f"{owner.get_username()} may not edit {', '.join(refused)}, so a token of theirs may not {what} there."
            )
    creator = permissions.acting_user(actor)
    if creator is not None and owner is not None and creator.pk != owner.pk and not creator.is_superuser:
        errors.setdefault("owner", []).append("Only a superuser may create a token for someone else.")
    return errors


def revoke_token(name: str, *, actor=None) -> ApiToken:
    """Revoke by name (the owner or a superuser, when someone acts); revoking twice changes nothing."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(name=name).first()
        if token is None:
            raise ValidationError({"name": [f"No token is named {name!r}."]})
        user = permissions.acting_user(actor)
        if user is not None and user.pk != token.owner_id and not user.is_superuser:
            raise ValidationError({"name": [f"Only its owner or a superuser may revoke {name!r}."]})
        if not token.revoked:
            token.revoked, token.revoked_at = True, timezone.now()
            token.save(update_fields=["revoked", "revoked_at"])
    return token


def authenticate(plaintext: str) -> ApiToken | None:
    """The usable token (not revoked, not expired, active owner) with its owner, in one query; else None."""
    if not plaintext.startswith(PREFIX) or len(plaintext) > 200:
        return None
    token = ApiToken.objects.usable().select_related("owner").filter(token_hash=digest(plaintext)).first()
    if token is None or not token.owner.is_active:
        return None
    touch(token)
    return token


def presented(plaintext: str) -> ApiToken | None:
    """The usable token a bearer presents, or None. No query while the runtime's watcher follows the tokens.

    Without a watcher the database is asked (it alone knows of a revocation); when it is away, the tokens as this
    process last knew them answer, and the outage is recorded. A token built from memory has no owner loaded.
    """
    token_digest = digest(plaintext)
    grant = runtime.token_grant(token_digest) if plaintext.startswith(PREFIX) else None
    if grant is runtime.NOT_FOLLOWING:
        try:
            return authenticate(plaintext)
        except DatabaseError as error:
            grant = runtime.remembered_grant(token_digest)
            if grant is runtime.NOT_FOLLOWING or not availability.is_outage(error):
                raise
            availability.failed(error)
    if grant is None or (grant.expires_at is not None and grant.expires_at <= timezone.now()):
        return None
    token = ApiToken(
        id=grant.id, name=grant.name, owner_id=grant.owner_id, token_hash=grant.token_hash,
        environments=grant.environments, categories=grant.categories, access=grant.access, secrets=grant.secrets,
        expires_at=grant.expires_at, created_at=grant.created_at, last_used_at=grant.last_used_at,
    )  # fmt: skip
    touch(token)
    return token


# Keyed by the digest too: an id can come back (a restored or test database) for another token.
_last_written: dict[tuple[int, str], datetime.datetime] = {}


def owner_of(owner_id):
    """A token's owner with every permission they hold: from memory while the runtime's watcher follows the tokens,
    their owners and the owners' permissions and groups (no query); else loaded in one query."""
    remembered = runtime.owner_grant(owner_id)
    if remembered is runtime.NOT_FOLLOWING or remembered is None:
        return accounts.user_with_permissions(owner_id)
    return accounts.remembered_user(
        {name: getattr(remembered, name) for name in ("id", "username", "is_active", "is_staff", "is_superuser")},
        remembered.permissions,
    )


def touch(token: ApiToken) -> None:
    """Record the use: at most one write per token per minute (per process)."""
    now = timezone.now()
    seen = max(filter(None, (token.last_used_at, _last_written.get((token.pk, token.token_hash)))), default=None)
    if seen is None or now - seen > LAST_USED_EVERY:
        try:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        except DatabaseError as error:
            if not availability.is_outage(error):
                raise
            availability.failed(error)  # best effort: a read during an outage is still answered
            return
        token.last_used_at = _last_written[(token.pk, token.token_hash)] = now
