"""TagResource / UntagResource / ListTags on a function (spec §6: ``/2017-03-31/tags/{Resource}``).

Tags live on ``Function.tags`` (a function's versions and aliases share them, as on AWS). The
limits are AWS's tagging rules: at most 50 tags, keys 1–128 characters, values at most 256, keys
not starting with ``aws:`` (reserved for AWS), letters, digits, spaces and ``_ . : / = + - @``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from django.db import transaction

from invocations import activity
from invocations.access import Caller, find_function
from invocations.arns import FunctionRef
from invocations.errors import InvalidParameterValueException
from invocations.models import Function

MAX_TAGS: Final = 50
MAX_KEY: Final = 128
MAX_VALUE: Final = 256
TAG_PATTERN: Final = r"[\w\s.:/=+\-@]*"
RESERVED_PREFIX: Final = "aws:"


def tag_problem(key: Any, value: Any) -> str | None:
    """What is wrong with one tag, in plain words (None when it is fine)."""
    if not isinstance(key, str) or not isinstance(value, str):
        return "Tag keys and values must be strings."
    if not 1 <= len(key) <= MAX_KEY:
        return f"Tag key '{key[:40]}' must be 1–{MAX_KEY} characters."
    if len(value) > MAX_VALUE:
        return f"The value of tag '{key}' must be at most {MAX_VALUE} characters."
    if key.lower().startswith(RESERVED_PREFIX):
        return f"Tag key '{key}' starts with 'aws:', which is reserved for AWS."
    if re.fullmatch(TAG_PATTERN, key) is None or re.fullmatch(TAG_PATTERN, value) is None:
        return f"Tag '{key}' may only use letters, digits, spaces and _ . : / = + - @."
    return None


def _check(tags: dict[str, str]) -> None:
    for key, value in tags.items():
        problem = tag_problem(key, value)
        if problem:
            raise InvalidParameterValueException(problem)
    if len(tags) > MAX_TAGS:
        raise InvalidParameterValueException(f"A function can have at most {MAX_TAGS} tags.")


def _locked(caller: Caller, ref: FunctionRef, action: str) -> Function:
    function = find_function(caller, ref, action, qualified=False)
    return Function.objects.select_for_update().select_related("team").get(pk=function.pk)


def list_tags(*, caller: Caller, ref: FunctionRef) -> dict[str, str]:
    return dict(find_function(caller, ref, "lambda:ListTags", qualified=False).tags or {})


def tag_resource(*, caller: Caller, ref: FunctionRef, tags: Any) -> dict[str, str]:
    """Add or overwrite ``tags``; the others stay."""
    if not isinstance(tags, dict):
        raise InvalidParameterValueException("Tags must be a map of strings.")
    with transaction.atomic():
        function = _locked(caller, ref, "lambda:TagResource")
        merged = {**(function.tags or {}), **tags}
        _check(merged)
        _save(caller, function, "lambda:TagResource", merged)
    return merged


def untag_resource(*, caller: Caller, ref: FunctionRef, keys: list[str]) -> dict[str, str]:
    with transaction.atomic():
        function = _locked(caller, ref, "lambda:UntagResource")
        kept = {k: v for k, v in (function.tags or {}).items() if k not in set(keys)}
        _save(caller, function, "lambda:UntagResource", kept)
    return kept


def _save(caller: Caller, function: Function, action: str, tags: dict[str, str]) -> None:
    before = dict(function.tags or {})
    if before == tags:
        return
    function.tags = tags
    function.save(update_fields=["tags"])
    activity.record(caller=caller, action=action, function=function,
                    changes=activity.diff({"tags": before}, {"tags": tags}))  # fmt: skip
