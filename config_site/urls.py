from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from configurations import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("configurations.api.urls")),
    path("ofrep/v1/", include("configurations.api.ofrep_urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]

handler403 = "configurations.admin.refusals.permission_denied"
