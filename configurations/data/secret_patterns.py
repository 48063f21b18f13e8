"""``CONFIG_SECRET_KEY_PATTERNS`` in the database, where its checks can read them (migration 0017).

The setting stays the one place an operator writes the patterns; ``migrate`` copies them into
``configuration_secret_patterns`` (post_migrate, as the owner), and the database then refuses a plaintext value
for any key whose name contains one of them or whose metadata is a password, on every path, raw SQL included.
The application role may only read the table. A system check reports a table out of step with the setting
(``configurations.W004``: run migrate) and the rows already stored in the clear (``configurations.W005``).
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, DatabaseError, transaction

from .. import conf
from .models import SecretKeyPattern


def stored(using: str = DEFAULT_DB_ALIAS) -> set[str]:
    """The patterns the database checks against."""
    return set(SecretKeyPattern.objects.using(using).values_list("pattern", flat=True))


def in_step(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the stored patterns are CONFIG_SECRET_KEY_PATTERNS."""
    return stored(using) == set(conf.secret_key_patterns())


def sync(using: str = DEFAULT_DB_ALIAS, **kwargs) -> bool:
    """Make the table hold exactly the setting's patterns; return whether anything changed."""
    wanted = set(conf.secret_key_patterns())
    try:
        with transaction.atomic(using=using):
            have = stored(using)
            if have == wanted:
                return False
            SecretKeyPattern.objects.using(using).exclude(pattern__in=wanted).delete()
            SecretKeyPattern.objects.using(using).bulk_create(
                [SecretKeyPattern(pattern=p) for p in sorted(wanted - have)], ignore_conflicts=True
            )
    except DatabaseError:
        return False  # not migrated this far (a migrate to an earlier state)
    return True


def on_setting_changed(*, setting: str, **kwargs) -> None:
    """A test's ``settings`` override of the patterns reaches the database's checks too."""
    if setting == "CONFIG_SECRET_KEY_PATTERNS":
        sync()
