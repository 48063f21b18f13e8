"""data.accounts: a user and every permission they hold, their own and their groups', in one query."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Group, Permission

from configurations.data import accounts
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_one_query_loads_the_user_and_their_own_and_their_groups_permissions(django_assert_num_queries):
    user = UserFactory(username="owner", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="edit_staging"))
    group = Group.objects.create(name="prod editors")
    group.permissions.add(Permission.objects.get(codename="edit_production"))
    user.groups.add(group)
    with django_assert_num_queries(1):
        loaded = accounts.user_with_permissions(user.pk)
        assert loaded.pk == user.pk and loaded.username == "owner" and loaded.is_staff
        assert loaded.has_perm("configurations.edit_staging") and loaded.has_perm("configurations.edit_production")
        assert not loaded.has_perm("configurations.edit_test")


def test_a_user_without_permissions_and_an_unknown_user():
    plain = UserFactory(username="plain")
    assert accounts.user_with_permissions(plain.pk).get_all_permissions() == set()
    assert accounts.user_with_permissions(uuid.uuid4()) is None
