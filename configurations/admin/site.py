"""The admin site: Django's, with the category editor and the history listed in the app index."""

from __future__ import annotations

import functools

from django.contrib import admin
from django.urls import path, reverse
from django.utils.translation import gettext, gettext_lazy

from ..services import permissions
from . import editor_views, rollbacks, views


class ConfigurationsAdminSite(admin.AdminSite):
    """The admin site with the category editor, compare, copy and history views."""

    site_header = gettext_lazy("Configuration management")
    site_title = gettext_lazy("Configurations")
    index_title = gettext_lazy("Configurations")

    def get_urls(self):
        """The category editor's pages, under /admin/configurations/ (not under one model's prefix, so the
        sidebar highlights one entry); before Django's own, each wrapped in admin_view."""

        def route(pattern: str, view, name: str):
            wrapped = self.admin_view(functools.partial(view, site=self))
            return path(f"configurations/{pattern}", wrapped, name=f"configurations_{name}")

        return [
            route("categories/", views.overview, "category_overview"),
            route("categories/<str:category>/compare/", views.compare, "category_compare"),
            route("categories/<str:category>/<str:environment>/", editor_views.edit, "category_edit"),
            route("history/", views.history_list, "history"),
            route("history/<int:entry_id>/rollback/", rollbacks.rollback, "history_rollback"),
            route("categories/<str:category>/<str:environment>/test-email/", views.send_test_email, "send_test_email"),
            *super().get_urls(),
        ]

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        if app_label not in (None, "configurations") or not request.user.is_staff:
            return app_list
        app = next((a for a in app_list if a["app_label"] == "configurations"), None)
        if app is None:
            if not permissions.editable_environments(request.user):
                return app_list
            # Someone who may edit an environment but holds no model permission still finds the editor.
            app = {"name": gettext("Configurations"), "app_label": "configurations", "app_url": reverse(
                "admin:configurations_category_overview"), "has_module_perms": True, "models": []}  # fmt: skip
            app_list.insert(0, app)
        editor = _entry(gettext("Edit by category and environment"), "admin:configurations_category_overview")
        app["models"][:0] = [editor]
        _move_users_to_authentication(app_list, app)
        return app_list


def _move_users_to_authentication(app_list: list[dict], app: dict) -> None:
    """Users sit beside Groups (the model lives in this app only to give users UUID keys)."""
    users = next((m for m in app["models"] if m.get("object_name") == "User"), None)
    auth = next((a for a in app_list if a["app_label"] == "auth"), None)
    if users is not None and auth is not None:
        app["models"].remove(users)
        auth["models"].insert(0, users)


def _entry(name: str, url_name: str) -> dict:
    return {
        "name": name,
        "object_name": url_name.rsplit(":", 1)[-1],
        "perms": {"view": True, "add": False, "change": False, "delete": False},
        "admin_url": reverse(url_name),
        "add_url": None,
        "view_only": True,
    }


site = ConfigurationsAdminSite()


def default_site() -> ConfigurationsAdminSite:
    """The one instance of the site, for ``AdminConfig.default_site``.

    Django's lazy ``admin.site`` calls this on first use. That first use happens while autodiscovery imports
    ``configurations.admin``, whose model admins register on ``admin.site`` again before the first call has
    returned; handing out one instance makes both calls agree, so no registration is lost.
    """
    return site
