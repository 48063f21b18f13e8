"""Who may edit which environment: Django permissions ``configurations.edit_<environment>``.

Staff can view every environment; editing one needs its permission, granted to users or groups as
usual. The generic ``change_systemconfiguration`` permission grants no environment: production, like
every environment, needs its own permission explicitly. Superusers have them all.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from ..core.vocabulary import ENVIRONMENTS


def permission_name(environment: str) -> str:
    return f"configurations.edit_{environment}"


def can_edit(user, environment: str) -> bool:
    return bool(user and user.is_active and user.is_staff and user.has_perm(permission_name(environment)))


def editable_environments(user) -> list[str]:
    return [env for env in ENVIRONMENTS if can_edit(user, env)]


def require_edit(user, environment: str) -> None:
    """Raise PermissionDenied (a 403) unless ``user`` may edit ``environment``."""
    if not can_edit(user, environment):
        raise PermissionDenied(f"You may not edit the {environment} environment.")
