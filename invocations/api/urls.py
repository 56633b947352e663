"""Routes of the AWS Lambda REST API, one per botocore operation (paths from the service model).

Trailing slashes are optional: older SDKs send some paths with one.
"""

from django.urls import re_path

from invocations.api.base import methods
from invocations.api.views import aliases, concurrency, function_urls, functions, invoke, streaming, versions
from invocations.api.views import logs, workbench
from invocations.api.views import async_status, event_invoke_config
from invocations.api.views import permissions, triggers
from invocations.api.views import event_source_mappings

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
        rf"^2015-03-31/functions/{FN}/policy/?$",
        methods(POST=permissions.add_permission, GET=permissions.get_policy),
    ),
    re_path(
        rf"^2015-03-31/functions/{FN}/policy/(?P<statement_id>[^/]+)/?$",
        methods(DELETE=permissions.remove_permission),
    ),
    re_path(
        rf"^2017-10-31/functions/{FN}/concurrency/?$",
        methods(PUT=concurrency.put_function_concurrency, DELETE=concurrency.delete_function_concurrency),
    ),
    re_path(rf"^2019-09-30/functions/{FN}/concurrency/?$", methods(GET=concurrency.get_function_concurrency)),
    re_path(
        rf"^2019-09-25/functions/{FN}/event-invoke-config/?$",
        methods(
            PUT=event_invoke_config.put_function_event_invoke_config,
            POST=event_invoke_config.update_function_event_invoke_config,
            GET=event_invoke_config.get_function_event_invoke_config,
            DELETE=event_invoke_config.delete_function_event_invoke_config,
        ),
    ),
    re_path(
        rf"^2019-09-25/functions/{FN}/event-invoke-config/list/?$",
        methods(GET=event_invoke_config.list_function_event_invoke_configs),
    ),
    # Beyond AWS: an Event invocation's status, attempts and deliveries (views/async_status.py).
    re_path(
        rf"^2015-03-31/functions/{FN}/async-invocations/(?P<request_id>[^/]+)/?$",
        methods(GET=async_status.get_async_invocation),
    ),
    re_path(
        r"^2015-03-31/event-source-mappings/?$",
        methods(GET=event_source_mappings.list_event_source_mappings, POST=event_source_mappings.create_event_source_mapping),
    ),
    re_path(
        r"^2015-03-31/event-source-mappings/(?P<mapping_uuid>[^/]+)/?$",
        methods(
            GET=event_source_mappings.get_event_source_mapping,
            PUT=event_source_mappings.update_event_source_mapping,
            DELETE=event_source_mappings.delete_event_source_mapping,
        ),
    ),
    re_path(r"^2016-08-19/account-settings/?$", methods(GET=functions.get_account_settings)),
    re_path(
        rf"^2021-11-15/functions/{FN}/response-streaming-invocations/?$",
        methods(POST=streaming.invoke_with_response_stream),
    ),
    re_path(
        rf"^2021-10-31/functions/{FN}/url/?$",
        methods(
            POST=function_urls.create_function_url_config,
            GET=function_urls.get_function_url_config,
            PUT=function_urls.update_function_url_config,
            DELETE=function_urls.delete_function_url_config,
        ),
    ),
    re_path(rf"^2021-10-31/functions/{FN}/urls/?$", methods(GET=function_urls.list_function_url_configs)),
    # The workbench's own JSON API for its CLI (SigV4 like the AWS API; see README.md).
    re_path(rf"^_workbench/api/functions/{FN}/invocations/?$", methods(GET=workbench.list_invocations)),
    re_path(rf"^_workbench/api/functions/{FN}/logs/?$", methods(GET=logs.get_log_events)),
    re_path(r"^_workbench/api/invocations/(?P<request_id>[^/]+)/?$", methods(GET=workbench.get_invocation)),
    re_path(r"^_workbench/api/invocations/(?P<request_id>[^/]+)/replay/?$", methods(POST=workbench.replay)),
    re_path(r"^_workbench/api/activity/?$", methods(GET=workbench.list_team_activity)),
    re_path(rf"^_workbench/api/functions/{FN}/activity/?$", methods(GET=workbench.list_function_activity)),
    # Saved test events are the console's: console/api_urls.py.
    # Schedules, webhook and SNS triggers (views/triggers.py): SigV4 API, and public push endpoints
    # authenticated by the token in the URL and a signature.
    re_path(
        rf"^_workbench/api/functions/{FN}/triggers/?$",
        methods(GET=triggers.list_triggers, POST=triggers.create_trigger),
    ),
    re_path(
        rf"^_workbench/api/functions/{FN}/triggers/(?P<name>[^/]+)/?$",
        methods(GET=triggers.get_trigger, DELETE=triggers.delete_trigger),
    ),
    re_path(rf"^_workbench/api/functions/{FN}/triggers/(?P<name>[^/]+)/enable/?$", methods(POST=triggers.enable_trigger)),
    re_path(rf"^_workbench/api/functions/{FN}/triggers/(?P<name>[^/]+)/disable/?$", methods(POST=triggers.disable_trigger)),
    re_path(r"^_workbench/hooks/(?P<token>[A-Za-z0-9_-]+)/?$", triggers.webhook, name="trigger-webhook"),
    re_path(r"^_workbench/sns/(?P<token>[A-Za-z0-9_-]+)/?$", triggers.sns, name="trigger-sns"),
    # GetFunction's Code.Location: a plain GET with an expiring HMAC token, no SigV4 (as S3 presigned URLs).
    re_path(r"^_workbench/code/(?P<digest>[0-9a-f]{64})\.zip$", functions.download_code, name="function-code"),
]
