from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views

app_name = "api"
urlpatterns = [
    path("environments/<str:environment>/configurations/", views.ConfigurationsView.as_view(), name="configurations"),
    path("environments/<str:environment>/changes/", views.ChangesView.as_view(), name="changes"),
    path("environments/<str:environment>/categories/<str:category>/", views.CategoryView.as_view(), name="category"),
    path(
        "environments/<str:environment>/categories/<str:category>/keys/<str:key>/",
        views.KeyView.as_view(),
        name="key",
    ),
    path(
        "environments/<str:environment>/categories/<str:category>/keys/<str:key>/history/",
        views.KeyHistoryView.as_view(),
        name="key_history",
    ),
    # The schema and its docs page are public: they describe the API, nothing in it. The split view serves the
    # page's script as a file, so the page works under the Content Security Policy; Swagger UI's assets come
    # from drf-spectacular-sidecar, never a CDN.
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", authentication_classes=[], permission_classes=[]),
        name="docs",
    ),
]
