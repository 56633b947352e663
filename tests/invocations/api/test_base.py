"""The API frame's last resort: what an exception no service mapped becomes (``api/base.py``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from invocations.api.base import unexpected
from invocations.errors import AwsError


def raised(action: Any) -> Exception:
    with pytest.raises(Exception) as caught:
        action()
    assert isinstance(caught.value, Exception)
    return caught.value


def test_a_document_too_deep_for_the_json_decoder_is_bad_input() -> None:
    answer: AwsError = unexpected(raised(lambda: json.loads("[" * 100_000)), "some_view")
    assert (answer.status, answer.code) == (400, "InvalidRequestContentException")
    assert answer.message == "Could not parse request body into json: Document nesting depth exceeds the maximum " \
                             "allowed (just under 1,000 levels)"  # fmt: skip


def test_any_other_recursion_error_is_still_our_fault() -> None:
    def forever(depth: int) -> int:
        return forever(depth + 1)

    answer = unexpected(raised(lambda: forever(0)), "some_view")
    assert (answer.status, answer.code) == (500, "ServiceException")


def test_an_ordinary_bug_is_a_500_service_exception() -> None:
    answer = unexpected(raised(lambda: int("not a number")), "some_view")
    assert (answer.status, answer.code, answer.message) == (
        500, "ServiceException", "An internal error occurred. The request was not processed."
    )  # fmt: skip
