from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import change_requests, history, problems, views

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
        history.KeyHistoryView.as_view(),
        name="key_history",
    ),
    path(
        "environments/<str:environment>/change-requests/",
        change_requests.ChangeRequestsView.as_view(),
        name="change_requests",
    ),
    path(
        "environments/<str:environment>/change-requests/<str:request_id>/",
        change_requests.ChangeRequestView.as_view(),
        name="change_request",
    ),
    *(
        path(
            f"environments/<str:environment>/change-requests/<str:request_id>/{action}/",
            view.as_view(),
            name=f"change_request_{action}",
        )
        for action, view in (
            ("approve", change_requests.ApproveView),
            ("reject", change_requests.RejectView),
            ("apply", change_requests.ApplyView),
        )
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
    # Anything else under /api/v1/ is a problem document too (not Django's HTML 404).
    re_path(r"^.*$", problems.unknown_resource),
]
