"""Webhook endpoints: create, change, pause, rotate the signing secret, remove; superusers only, each change recorded
with who and why (the endpoints' history table, written by the database like the templates').

A signing secret is shown once, when it is made; it is stored encrypted (core.crypto, bound to the endpoint) and
never appears in the admin, the endpoint's history, logs or deliveries.
"""

from __future__ import annotations

import datetime
import fnmatch

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ...core import crypto
from ...core.vocabulary import ENVIRONMENTS
from ...data import audit
from ...data.models import ConfigurationEvent, EventType, WebhookEndpoint, WebhookSecret
from .. import permissions
from . import signing, targets

_BINDING = {"environment": "webhooks", "category": "signing-secret"}
ROTATION_OVERLAP = datetime.timedelta(hours=24)


def require_superuser(actor) -> None:
    """Only a superuser (or trusted code, with no actor) manages webhooks."""
    user = permissions.acting_user(actor)
    if user is not None and not getattr(user, "is_superuser", False):
        raise PermissionDenied("Only a superuser may manage webhook endpoints.")


def check(endpoint: WebhookEndpoint) -> None:
    """Every problem of an endpoint's fields, by field, as one ValidationError (the URL is resolved and checked)."""
    errors: dict[str, list[str]] = {}
    try:
        targets.resolve(endpoint.url)
    except targets.UnsafeTarget as error:
        errors["url"] = [str(error)]
    for field, known in (("environments", ENVIRONMENTS), ("event_types", EventType.values)):
        values = getattr(endpoint, field)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errors[field] = ["a list of names"]
        elif unknown := sorted(set(values) - set(known)):
            errors[field] = [f"unknown: {', '.join(unknown)}; use {', '.join(known)}"]
    for field in ("categories", "key_patterns"):
        values = getattr(endpoint, field)
        if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
            errors[field] = ["a list of non-empty names"]
    if errors:
        raise ValidationError(errors)


def save_endpoint(endpoint: WebhookEndpoint, *, actor=None, reason: str | None = None) -> str | None:
    """Check and save an endpoint (new or changed); a new one gets a signing secret, returned once (else None)."""
    require_superuser(actor)
    check(endpoint)
    created = endpoint.pk is None
    with transaction.atomic(), audit.audit_context(actor=actor, reason=reason or f"Webhook endpoint {endpoint.name}"):
        endpoint.full_clean(exclude=["url"])
        endpoint.save()
        return _add_secret(endpoint) if created else None


def add_endpoint(name: str, url: str, *, actor=None, reason: str | None = None, **scope) -> tuple[WebhookEndpoint, str]:
    """A new endpoint (``scope``: environments, categories, key_patterns, event_types, description) and its
    signing secret, which is shown only now."""
    endpoint = WebhookEndpoint(name=name, url=url, **scope)
    secret = save_endpoint(endpoint, actor=actor, reason=reason)
    return endpoint, secret


def remove_endpoint(name: str, *, actor=None, reason: str | None = None) -> None:
    """Delete an endpoint with its secrets and deliveries (its history keeps the record)."""
    require_superuser(actor)
    with transaction.atomic(), audit.audit_context(actor=actor, reason=reason or f"Webhook endpoint {name} removed"):
        endpoint = WebhookEndpoint.objects.select_for_update().filter(name=name).first()
        if endpoint is None:
            raise WebhookEndpoint.DoesNotExist(f"no webhook endpoint named {name!r}")
        endpoint.delete()


def rotate_secret(endpoint: WebhookEndpoint, *, actor=None, overlap: datetime.timedelta = ROTATION_OVERLAP) -> str:
    """A new signing secret; the current ones keep signing (a second signature) for ``overlap``, then expire."""
    require_superuser(actor)
    with transaction.atomic():
        live = WebhookSecret.objects.select_for_update().filter(endpoint=endpoint, expires_at__isnull=True)
        live.update(expires_at=timezone.now() + overlap)
        return _add_secret(endpoint)


def live_secrets(endpoint_id: int) -> list[str]:
    """The endpoint's secrets that sign now, newest first, decrypted."""
    now = timezone.now()
    found = WebhookSecret.objects.filter(endpoint_id=endpoint_id).order_by("-id")
    return [
        crypto.decrypt(s.secret, key=str(endpoint_id), **_BINDING)
        for s in found
        if s.expires_at is None or s.expires_at > now
    ]


def matches(endpoint: WebhookEndpoint, event_type: str, environment, category, key) -> bool:
    """Whether the endpoint subscribes to this event (an empty filter lets everything through)."""
    if endpoint.event_types and event_type not in endpoint.event_types:
        return False
    if endpoint.environments and environment is not None and environment not in endpoint.environments:
        return False
    if endpoint.categories and category is not None and category not in endpoint.categories:
        return False
    if endpoint.key_patterns and key is not None:
        return any(fnmatch.fnmatchcase(key, pattern) for pattern in endpoint.key_patterns)
    return True


def _add_secret(endpoint: WebhookEndpoint) -> str:
    secret = signing.new_secret()
    WebhookSecret.objects.create(endpoint=endpoint, secret=crypto.encrypt(secret, key=str(endpoint.pk), **_BINDING))
    return secret


def send_test_event(endpoint: WebhookEndpoint, *, actor=None) -> ConfigurationEvent:
    """Queue a ``webhook.test`` event for this endpoint only (the dispatcher sends it like any other)."""
    require_superuser(actor)
    return ConfigurationEvent.objects.create(event_type=EventType.TEST, endpoint=endpoint, subject=endpoint.name)


def reencrypt_secrets(ring: crypto.Keyring, *, dry_run: bool = False) -> tuple[int, list[str]]:
    """Re-encrypt the signing secrets not under the active key (rotate_encryption_keys): (how many, failures)."""
    rotated, failed = 0, []
    for stored in WebhookSecret.objects.order_by("id"):
        if crypto.envelope_key_id(stored.secret) == ring.active_id:
            continue
        binding = {"key": str(stored.endpoint_id), **_BINDING}
        try:
            plaintext = crypto.decrypt(stored.secret, ring=ring, **binding)
        except crypto.DecryptionError as error:
            failed.append(f"webhook signing secret #{stored.pk}: {error}")
            continue
        rotated += 1
        if not dry_run:
            stored.secret = crypto.encrypt(plaintext, ring=ring, **binding)
            stored.save(update_fields=["secret"])
    return rotated, failed
