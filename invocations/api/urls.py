"""Routes of the AWS Lambda REST API, one per botocore operation (paths from the service model).

Trailing slashes are optional: older SDKs send some paths with one.
"""

from django.urls import re_path

from invocations.api.base import methods
from invocations.api.views import aliases, concurrency, functions, invoke, versions

FN = r"(?P<function_name>[^/]+)"

urlpatterns = [
    re_path(
        r"^2015-03-31/functions/?$",
        methods(GET=functions.list_functions, POST=functions.create_function),
    ),
    re_path(
        rf"^2015-03-31/functions/{FN}/?$",
        methods(GET=functions.get_function, DELETE=functions.delete_function),
    ),
    re_path(
        rf"^2015-03-31/functions/{FN}/configuration/?$",
        methods(GET=functions.get_function_configuration, PUT=functions.update_function_configuration),
    ),
    re_path(rf"^2015-03-31/functions/{FN}/code/?$", methods(PUT=functions.update_function_code)),
    re_path(rf"^2015-03-31/functions/{FN}/invocations/?$", methods(POST=invoke.invoke)),
    re_path(rf"^2014-11-13/functions/{FN}/invoke-async/?$", methods(POST=invoke.invoke_async)),
    re_path(
        rf"^2015-03-31/functions/{FN}/versions/?$",
        methods(GET=versions.list_versions_by_function, POST=versions.publish_version),
    ),
    re_path(
        rf"^2015-03-31/functions/{FN}/aliases/?$",
        methods(GET=aliases.list_aliases, POST=aliases.create_alias),
    ),
    re_path(
        rf"^2015-03-31/functions/{FN}/aliases/(?P<name>[^/]+)/?$",
        methods(GET=aliases.get_alias, PUT=aliases.update_alias, DELETE=aliases.delete_alias),
    ),
    re_path(
        rf"^2017-10-31/functions/{FN}/concurrency/?$",
        methods(PUT=concurrency.put_function_concurrency, DELETE=concurrency.delete_function_concurrency),
    ),
    re_path(rf"^2019-09-30/functions/{FN}/concurrency/?$", methods(GET=concurrency.get_function_concurrency)),
    re_path(r"^2016-08-19/account-settings/?$", methods(GET=functions.get_account_settings)),
    # GetFunction's Code.Location: a plain GET with an expiring HMAC token, no SigV4 (as S3 presigned URLs).
    re_path(r"^_workbench/code/(?P<digest>[0-9a-f]{64})\.zip$", functions.download_code, name="function-code"),
]
