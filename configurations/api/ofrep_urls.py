"""OFREP's paths (api/ofrep.py), under /ofrep/v1/ where the OpenFeature providers look for them."""

from django.urls import path

from . import ofrep

app_name = "ofrep"
urlpatterns = [
    path("evaluate/flags/<str:key>", ofrep.EvaluateFlagView.as_view(), name="flag"),
    path("evaluate/flags", ofrep.EvaluateFlagsView.as_view(), name="flags"),
    path("configuration", ofrep.ConfigurationView.as_view(), name="configuration"),
]
