"""The product's URLs plus two views for serving tests and the load benchmark: a bare view (the floor) and one
that reads ``runtime.get`` 20 times, as an application would on a request."""

from django.http import HttpResponse, JsonResponse
from django.urls import path

from config_site.urls import urlpatterns as product_urlpatterns
from configurations import runtime

KEYS = [f"key{i:02}" for i in range(20)]


def bare(request):
    return HttpResponse("ok")


def runtime_reads(request):
    values = {key: runtime.get("load", key, None) for key in KEYS}
    probe = runtime.get("runtime", "probe", None)
    return JsonResponse({"probe": probe, "read": sum(v is not None for v in values.values())})


urlpatterns = [
    path("test/bare", bare),
    path("test/runtime-reads", runtime_reads),
    *product_urlpatterns,
]
