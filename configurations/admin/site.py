"""The admin site: Django's, with the category editor and the history listed in the app index."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse


class ConfigurationsAdminSite(admin.AdminSite):
    site_header = "Configuration management"
    site_title = "Configurations"
    index_title = "Configurations"

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        for app in app_list:
            if app["app_label"] == "configurations" and request.user.is_staff:
                app["models"][:0] = [
                    _entry("Edit by category and environment", "admin:configurations_category_overview"),
                    _entry("Change history", "admin:configurations_history"),
                ]
        return app_list


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
