from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("invocations.api.urls")),
    path("", include("console.api_urls")),
    path("", include("console.urls")),
]
