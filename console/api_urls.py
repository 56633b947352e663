"""Routes of the console's part of the workbench API (``console/api.py``)."""

from django.urls import re_path

from console import api
from invocations.api.base import methods
from invocations.api.urls import FN

F = rf"^_workbench/api/functions/{FN}"

urlpatterns = [
    re_path(rf"{F}/events/?$", methods(GET=api.list_events, POST=api.create_events)),
    re_path(rf"{F}/events/(?P<name>[^/]+)/?$", methods(GET=api.get_event, PUT=api.put_event, DELETE=api.delete_event)),
    re_path(rf"{F}/suites/?$", methods(GET=api.list_suites, POST=api.start_suite)),
    re_path(rf"{F}/suites/compare/?$", methods(GET=api.compare_suites)),
    re_path(rf"{F}/suites/(?P<suite_id>\d{{1,18}})/?$", methods(GET=api.get_suite)),
    re_path(rf"{F}/suite-settings/?$", methods(GET=api.get_suite_settings, PUT=api.put_suite_settings)),
]
