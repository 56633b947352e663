"""The platform's errors, named and shaped as AWS's (spec §2): code, HTTP status and message as data.

Services, selectors and event sources raise these; they never render them. ``invocations/api/errors.py``
turns one into rest-json on the wire (status, ``x-amzn-ErrorType`` header, JSON body
``{"Type": "User"|"Service", "message"|"Message": ...}``), and the console shows the message. Which of
``message``/``Message`` a body uses follows the botocore model shape of each exception, so it is a
class attribute here.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AwsError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "InvalidParameterValueException"
    fault: ClassVar[str] = "User"
    message_key: ClassVar[str] = "message"

    def __init__(self, message: str | None = "", **extra: Any) -> None:
        super().__init__(message or "")
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {"Type": self.fault, self.message_key: self.message, **self.extra}


# --- 400 ---------------------------------------------------------------------------------------
class InvalidParameterValueException(AwsError):
    code = "InvalidParameterValueException"


class InvalidRequestContentException(AwsError):
    code = "InvalidRequestContentException"


class ValidationException(AwsError):
    """Unmodeled; the real service uses it for pattern, enum and maximum violations."""

    code = "ValidationException"

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


class ResourceInUseException(AwsError):
    code = "ResourceInUseException"
    message_key = "Message"


class PolicyLengthExceededException(AwsError):
    code = "PolicyLengthExceededException"


class IncompleteSignatureException(AwsError):
    code = "IncompleteSignatureException"


# --- 403 ---------------------------------------------------------------------------------------
class AccessDeniedException(AwsError):
    status = 403
    code = "AccessDeniedException"
    message_key = "Message"


class InvalidSignatureException(AwsError):
    status = 403
    code = "InvalidSignatureException"

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


class UnrecognizedClientException(AwsError):
    status = 403
    code = "UnrecognizedClientException"

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


class MissingAuthenticationTokenException(AwsError):
    status = 403
    code = "MissingAuthenticationTokenException"

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


# --- 404 / 409 / 412 / 413 / 415 / 429 ----------------------------------------------------------
class ResourceNotFoundException(AwsError):
    status = 404
    code = "ResourceNotFoundException"
    message_key = "Message"


class UnknownOperationException(AwsError):
    status = 404
    code = "UnknownOperationException"

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


class ResourceConflictException(AwsError):
    status = 409
    code = "ResourceConflictException"


class PreconditionFailedException(AwsError):
    status = 412
    code = "PreconditionFailedException"


class RequestEntityTooLargeException(AwsError):
    """Unmodeled code that the real service sends for oversize payloads (spec §2.2)."""

    status = 413
    code = "RequestEntityTooLargeException"

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


class UnsupportedMediaTypeException(AwsError):
    status = 415
    code = "UnsupportedMediaTypeException"


class TooManyRequestsException(AwsError):
    status = 429
    code = "TooManyRequestsException"

    def __init__(self, reason: str, message: str = "Rate Exceeded.", retry_after: int = 1) -> None:
        super().__init__(message, Reason=reason)
        self.headers["Retry-After"] = str(retry_after)


# --- faults --------------------------------------------------------------------------------------
class ServiceException(AwsError):
    status = 500
    code = "ServiceException"
    fault = "Service"
    message_key = "Message"


class InvalidZipFileException(AwsError):
    status = 502
    code = "InvalidZipFileException"
    message_key = "Message"


class InvalidRuntimeException(AwsError):
    status = 502
    code = "InvalidRuntimeException"
    message_key = "Message"


def function_not_found(arn: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Function not found: {arn}")
