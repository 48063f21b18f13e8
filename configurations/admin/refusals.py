"""The refusal page: what was refused, which permission would allow it, and a way back, in the product's styling.

Django's own 403 knows nothing of the admin site (its header reads "Django administration") and the old page's
"go back" was a ``javascript:`` link that the Content Security Policy blocks. This handler names the refusal (the
exception's words: the services say which permission a write needs), links back to the page the user came from
when it is one of this site's, else to the admin's index.
"""

from __future__ import annotations

from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .site import site

GENERIC = gettext_lazy("You may not open this page: it needs a permission your account does not have.")


def permission_denied(request, exception=None):
    """handler403: the refusal in the product's own page, status 403."""
    reason = str(exception or "").strip() or GENERIC
    back = request.META.get("HTTP_REFERER", "")
    if not back or not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = None
    context = {**_site_context(request), "title": _("Not allowed"), "reason": reason, "back": back,
               "refused_path": request.path}  # fmt: skip
    response = TemplateResponse(request, "403.html", context, status=403)
    return response.render()


def _site_context(request) -> dict:
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        return site.each_context(request)
    return {"site_header": site.site_header, "site_title": site.site_title}
