"""The frame every API operation runs in: request id, SigV4, JSON bodies, AWS error mapping."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from invocations import json_input
from invocations.access import Caller
from invocations.api import sigv4
from invocations.api.errors import error_response
from invocations.errors import (
    AwsError,
    InvalidParameterValueException,
    InvalidRequestContentException,
    ServiceException,
    UnknownOperationException,
)

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def aws_operation(view: View) -> View:
    """Authenticate with SigV4 and turn AwsError (and anything unexpected) into AWS's error shape."""

    @wraps(view)
    def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        request_id = str(uuid.uuid4())
        request.aws_request_id = request_id  # type: ignore[attr-defined]
        try:
            request.caller = sigv4.authenticate(request).through(client_kind(request))  # type: ignore[attr-defined]
            _refuse_nul(request)
            response = view(request, **kwargs)
        except AwsError as error:
            response = error_response(error, request_id)
        except SuspiciousOperation as error:
            # Django's word for a malformed request (more query fields than
            # DATA_UPLOAD_MAX_NUMBER_FIELDS, a Host not allowed): a 400 in Django, and here.
            response = error_response(InvalidParameterValueException(f"The request is malformed: {error}"), request_id)
        except Exception as error:
            response = error_response(unexpected(error, view.__name__), request_id)
        if "x-amzn-RequestId" not in response:
            response["x-amzn-RequestId"] = request_id
        return response

    return wrapper


def _refuse_nul(request: HttpRequest) -> None:
    """No label or query value carries a NUL character (JSON bodies: ``json_body``).

    PostgreSQL text cannot hold one, so a lookup by a name, id or marker with a NUL in it failed
    there with a 500 (SQLite took it). AWS's patterns refuse control characters in every label it
    models; Django's form fields refuse NUL the same way.
    """
    query = request.META.get("QUERY_STRING", "")
    if "\x00" in request.path or (("%00" in query or "\x00" in query) and _query_has_nul(request)):
        raise InvalidParameterValueException("The request must not contain NUL characters (\\u0000).")


def _query_has_nul(request: HttpRequest) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists())


def unexpected(error: Exception, operation: str) -> AwsError:
    """The answer to an exception no service turned into an AwsError: a 500 ``ServiceException``,
    but for a JSON document nested too deep that reached ``json.loads`` without ``json_input``
    (what ``json_body`` and every input parser use): that is bad input, never our fault, so it is
    the same 400 ``json_body`` gives — logged, so the unguarded parse gets fixed."""
    if isinstance(error, RecursionError) and _raised_by_json_decoder(error):
        logger.warning("%s parsed a too-deep JSON document without json_input.loads", operation)
        return InvalidRequestContentException(f"Could not parse request body into json: {json_input.NestingTooDeep()}")
    logger.exception("unhandled error in %s", operation)
    return ServiceException("An internal error occurred. The request was not processed.")


def _raised_by_json_decoder(error: BaseException) -> bool:
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    return traceback is not None and traceback.tb_frame.f_code.co_filename == json.decoder.__file__


def client_kind(request: HttpRequest) -> str:
    """"cli" for the AWS CLI (its User-Agent starts with aws-cli/) and the workbench CLI
    (workbench-cli/ in its User-Agent), "api" for SDKs and plain HTTP."""
    user_agent = request.META.get("HTTP_USER_AGENT", "")
    return "cli" if "aws-cli/" in user_agent or "workbench-cli/" in user_agent else "api"


def caller(request: HttpRequest) -> Caller:
    """Who signed the request (set by ``aws_operation``)."""
    found: Caller = request.caller  # type: ignore[attr-defined]
    return found


def methods(**handlers: View) -> View:
    """One URL, several operations told apart by HTTP method (GET=get_function, DELETE=...)."""

    @csrf_exempt
    def dispatch(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        handler = handlers.get(request.method or "")
        if handler is None:
            return error_response(UnknownOperationException(None), str(uuid.uuid4()))
        return handler(request, **kwargs)

    return dispatch


def json_response(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(data, separators=(",", ":")), status=status, content_type="application/json")


def empty_response(status: int) -> HttpResponse:
    return HttpResponse(b"", status=status)


def valid_query(form: forms.Form) -> dict[str, Any]:
    """A bound query form's cleaned data, or AWS's 400 naming every field that is wrong."""
    if not form.is_valid():
        problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
        raise InvalidParameterValueException(f"Invalid query: {problems}")
    return form.cleaned_data


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object body ({} when empty)."""
    if not request.body:
        return {}
    try:
        data = json_input.loads(request.body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequestContentException(f"Could not parse request body into json: {error}") from None
    if not isinstance(data, dict):
        raise InvalidRequestContentException("Could not parse request body into json: expected an object")
    if b"\\u0000" in request.body and json_input.has_nul(data):  # PostgreSQL cannot store it
        raise InvalidParameterValueException("The request body must not contain NUL characters (\\u0000).")
    return data
