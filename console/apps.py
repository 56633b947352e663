from typing import Any

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from invocations import signals

        signals.function_updated.connect(_run_suite_on_deploy, dispatch_uid="console.run_suite_on_deploy")


def _run_suite_on_deploy(*, function: Any, caller: Any, change: str, **_: Any) -> None:
    from console.services import suites

    suites.run_on_deploy(function=function, caller=caller)
