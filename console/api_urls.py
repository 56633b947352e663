"""Routes of the console's part of the workbench API (``console/api.py``)."""

from django.urls import re_path

from console import api
from invocations.api.base import methods
from invocations.api.urls import FN

urlpatterns = [
    re_path(rf"^_workbench/api/functions/{FN}/events/?$", methods(GET=api.list_events, POST=api.create_events)),
    re_path(rf"^_workbench/api/functions/{FN}/events/(?P<name>[^/]+)/?$", methods(GET=api.get_event)),
]
