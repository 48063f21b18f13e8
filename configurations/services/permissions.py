"""Who may edit which environment: Django permissions ``configurations.edit_<environment>``.

Staff can view every environment; editing one needs its permission, granted to users or groups as
usual. The generic ``change_systemconfiguration`` permission grants no environment: production, like
every environment, needs its own permission explicitly. Superusers have them all.

The services check these for the *acting user*: the ``actor`` they are given, else the audit context's
(the logged-in user of an admin request, a command's ``--actor``). With no actor at all the caller is trusted
code (a script, a shell, a command run without ``--actor``), which could write the database directly anyway.
An anonymous user may edit nothing. Rules (docs/threat-model.md):

- writing to environment E, or planning a write there (previews, dry runs), needs ``edit_E``;
- a secret's value may leave environment E (copied, exported, sent with, compared) only at the hands of
  someone who may edit E;
- metadata and templates apply to every environment, so changing them needs every ``edit_<environment>``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model

from ..core.vocabulary import ENVIRONMENTS, EnvironmentPermissionDenied
from ..data import audit

__all__ = ["EnvironmentPermissionDenied", "can_edit", "can_edit_all", "editable_environments", "require_edit"]


def permission_name(environment: str) -> str:
    """The permission that lets a user edit an environment."""
    return f"configurations.edit_{environment}"


def can_edit(user, environment: str) -> bool:
    """Whether the user may edit the environment."""
    return bool(user and user.is_active and user.is_staff and user.has_perm(permission_name(environment)))


def editable_environments(user) -> list[str]:
    """The environments the user may edit."""
    return [env for env in ENVIRONMENTS if can_edit(user, env)]


def can_edit_all(user) -> bool:
    """Whether the user may edit every environment (needed for metadata and templates)."""
    return all(can_edit(user, env) for env in ENVIRONMENTS)


def require_edit(user, environment: str) -> None:
    """Raise EnvironmentPermissionDenied (a 403) unless ``user`` may edit ``environment``."""
    if not can_edit(user, environment):
        raise EnvironmentPermissionDenied(
            f"You may not edit the {environment} environment: that needs the permission {permission_name(environment)}."
        )


def acting_user(actor=None):
    """The user a service acts for: ``actor``, else the audit context's; None for trusted code."""
    actor = actor if actor is not None else audit.current().actor
    if actor is None or hasattr(actor, "has_perm"):
        return actor
    return get_user_model().objects.filter(pk=actor).first() or _Nobody()


def require_edit_each(actor, environments: Iterable[str], *, doing: str = "write to") -> None:
    """Unless trusted code acts, the acting user must edit every one of ``environments``."""
    user = acting_user(actor)
    if user is None:
        return
    refused = sorted({env for env in environments if not can_edit(user, env)})
    if refused:
        raise EnvironmentPermissionDenied(
            f"You may not {doing} the {_and(refused)} environment{'s' if len(refused) > 1 else ''}: "
            f"that needs the permission {_and([permission_name(env) for env in refused])}."
        )


def may_edit(actor, environment: str) -> bool:
    """Whether the acting user (or trusted code) may edit ``environment``."""
    user = acting_user(actor)
    return user is None or can_edit(user, environment)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


class _Nobody:
    """An actor that names no existing user: it may edit nothing."""

    is_active = is_staff = False

    def has_perm(self, perm: str) -> bool:
        return False
