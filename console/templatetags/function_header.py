"""The function page header (templates/console/_function_header.html): its ARN and its summary,
for every function page without each view having to pass them."""

from __future__ import annotations

from typing import Any

from django import template

from console.summary import function_summary
from invocations.arns import arn_of
from invocations.models import Function

register = template.Library()


@register.simple_tag
def function_arn(function: Function) -> str:
    return arn_of(function)


@register.inclusion_tag("console/_function_summary.html")
def function_summary_card(function: Function) -> dict[str, Any]:
    return {"summary": function_summary(function), "function": function}


@register.simple_tag(takes_context=True)
def danger_zone(context: Any, function: Function) -> dict[str, Any]:
    """What the Configuration tab's danger zone offers this user (the views check again)."""
    from console.views.function_admin import danger_zone_context

    return danger_zone_context(context["request"], function)
