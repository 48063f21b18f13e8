"""A user with all their permissions in one query: what an API token's owner needs on each write.

Django's ``ModelBackend`` asks two queries for a user's permissions (their own, their groups'), after the one that
loads the user; without a watcher a token's owner is loaded afresh for every request (a revoked permission must
count at once), so a write paid three queries before it began. Here one statement loads the user and every
permission they hold, and the permissions are handed to Django's own cache on the user object (``_perm_cache``),
which ``has_perm`` reads. While a watcher follows the database, the owner comes from its memory instead
(``remembered_user``; runtime/tokens.py), reloaded whenever what the owner may do changes.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from .model_base import User


def user_with_permissions(user_id) -> User | None:
    """The user, with ``has_perm`` answered from what this one query read; None if there is no such user."""
    fields = list(User._meta.concrete_fields)
    key = User._meta.pk.get_db_prep_value(user_id, connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the same query, planned once per connection (data/triggers/hot_path.py)
            columns = ", ".join(f"(f.member).{connection.ops.quote_name(f.column)}" for f in fields)
            from_function = "FROM config_user_with_permissions(%s) AS f"
            cursor.execute(f"SELECT {columns}, f.app_label, f.codename {from_function}", [key])
        else:
            columns = ", ".join(f"u.{connection.ops.quote_name(f.column)}" for f in fields)
            cursor.execute(
                f"SELECT {columns}, granted.app_label, granted.codename FROM {User._meta.db_table} u "
                f"LEFT JOIN ({_GRANTED}) granted ON 1 = 1 WHERE u.{User._meta.pk.column} = %s",
                [key, key, key],
            )
        rows = cursor.fetchall()
    if not rows:
        return None
    values = rows[0][: len(fields)]
    converted = []
    for field, value in zip(fields, values, strict=True):
        for converter in connection.ops.get_db_converters(field.get_col(User._meta.db_table)):
            value = converter(value, field, connection)
        converted.append(value)
    user = User.from_db(connection.alias, [f.attname for f in fields], converted)
    user._perm_cache = {f"{app}.{codename}" for *_, app, codename in rows if codename is not None}
    return user


def remembered_user(fields: dict, permissions) -> User:
    """A user built from what memory holds of them (``fields`` by attribute name), with ``has_perm`` answered from
    ``permissions``; any other field is loaded from the database if something asks for it."""
    names = [f.attname for f in User._meta.concrete_fields if f.attname in fields]
    user = User.from_db(connection.alias, names, [fields[name] for name in names])
    user._perm_cache = set(permissions)
    return user


_USER_PERMISSIONS = User.user_permissions.through._meta.db_table
_USER_GROUPS = User.groups.through._meta.db_table
_GROUP_PERMISSIONS = Group.permissions.through._meta.db_table
_GRANTED = (
    f"SELECT ct.app_label, p.codename FROM {Permission._meta.db_table} p "
    f"JOIN {ContentType._meta.db_table} ct ON ct.id = p.content_type_id "
    f"WHERE p.id IN (SELECT permission_id FROM {_USER_PERMISSIONS} WHERE user_id = %s "
    f"UNION SELECT gp.permission_id FROM {_GROUP_PERMISSIONS} gp "
    f"JOIN {_USER_GROUPS} ug ON ug.group_id = gp.group_id WHERE ug.user_id = %s)"
)
