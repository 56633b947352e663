from django.contrib import admin
from django.urls import include, path

from invocations import health

urlpatterns = [
    path("admin/", admin.site.urls),
    # Monitoring (invocations/health.py): no login, no session; /metrics needs METRICS_TOKEN.
    path("metrics", health.metrics_view, name="metrics"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", include("invocations.api.urls")),
    path("", include("console.api_urls")),
    path("", include("console.urls")),
]
