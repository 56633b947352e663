"""Destinations of asynchronous invocations: what a destination string names, and sending to it.

Kinds (spec §5.1, §5.3):

* ``arn:aws:lambda:…:function:NAME[:QUALIFIER]`` — a function of this platform, invoked
  asynchronously with the record as its event;
* ``arn:aws:sqs:REGION:ACCOUNT:QUEUE`` — the record is the message body;
* ``arn:aws:sns:REGION:ACCOUNT:TOPIC`` — the record is the ``Message``;
* ``arn:aws:events:REGION:ACCOUNT:event-bus/NAME`` — ``PutEvents`` with ``source: "lambda"``,
  ``detail-type: "Lambda Function Invocation Result - Success|Failure"``, ``detail`` = the record,
  ``resources`` = [bus ARN, function ARN];
* ``https://…`` / ``http://…`` — beyond AWS: a webhook, POSTed the record, signed (see ``webhook``).

SQS, SNS and EventBridge go through boto3 at the endpoints boto3 itself reads from the environment
(``AWS_ENDPOINT_URL_SQS``, ``AWS_ENDPOINT_URL_SNS``, ``AWS_ENDPOINT_URL_EVENTBRIDGE`` — boto3's
name for EventBridge; ``AWS_ENDPOINT_URL_EVENTS`` is accepted too), so real AWS,
LocalStack or moto all work; credentials come from boto3's usual chain, or dummy ones when there
are none (emulators accept anything). S3 (on-failure only in AWS) is not supported here.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import socket
import ssl
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from django.conf import settings

LAMBDA: Final = "lambda"
SQS: Final = "sqs"
SNS: Final = "sns"
EVENTS: Final = "events"
WEBHOOK: Final = "webhook"
SUPPORTED: Final = (LAMBDA, SQS, SNS, EVENTS, WEBHOOK)
DLQ_KINDS: Final = (SQS, SNS)
SIGNATURE_HEADER: Final = "X-Workbench-Signature"
ERROR_MESSAGE_LIMIT: Final = 1024  # DLQ ErrorMessage attribute: first 1 KB (spec §5.3)


class DeliveryError(Exception):
    """The destination did not take the message (worth retrying)."""


@dataclass(frozen=True)
class Target:
    kind: str | None  # one of SUPPORTED, or None for anything else (s3, kafka, junk)
    destination: str
    service: str = ""
    region: str = ""
    account: str = ""
    resource: str = ""


def parse(destination: str) -> Target:
    """Classify a destination string; ``kind`` is None when this platform cannot deliver to it."""
    if destination.startswith(("https://", "http://")):
        return Target(kind=WEBHOOK, destination=destination)
    parts = destination.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1].startswith("aws"):
        return Target(kind=None, destination=destination)
    _, _, service, region, account, resource = parts
    kind = service if service in (LAMBDA, SQS, SNS, EVENTS) else None
    if kind == EVENTS and not resource.startswith("event-bus/"):
        kind = None
    if kind == LAMBDA and not resource.startswith("function:"):
        kind = None
    return Target(kind=kind, destination=destination, service=service, region=region, account=account, resource=resource)


# --- boto3 clients -----------------------------------------------------------------------------------

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def client(service: str, region: str) -> Any:
    """A cached boto3 client (clients are thread-safe; building one costs ≈ 50 ms)."""
    key = (service, region or settings.LAMBDA_REGION)
    if key not in _clients:
        with _clients_lock:
            if key not in _clients:
                import boto3
                from botocore.config import Config

                session = boto3.session.Session()
                credentials: dict[str, str] = {}
                if session.get_credentials() is None:
                    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
                timeout = settings.LAMBDA_DESTINATION_TIMEOUT_SECONDS
                if service == EVENTS and not os.environ.get("AWS_ENDPOINT_URL_EVENTBRIDGE"):
                    endpoint = os.environ.get("AWS_ENDPOINT_URL_EVENTS")
                    if endpoint:
                        credentials["endpoint_url"] = endpoint
                _clients[key] = session.client(
                    service,
                    region_name=key[1],
                    config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2}),
                    **credentials,
                )
    return _clients[key]


def _queue_url(target: Target) -> str:
    sqs = client(SQS, target.region)
    return str(sqs.get_queue_url(QueueName=target.resource, QueueOwnerAWSAccountId=target.account)["QueueUrl"])


# --- sending ---------------------------------------------------------------------------------------


def send_record(*, destination: str, record: dict[str, Any], function_arn: str, success: bool) -> str | None:
    """Deliver an invocation record; raises DeliveryError (or a boto3 error) when it was not taken.

    Returns the request id of the invocation it started when the destination is a function (the
    console links the two), else None."""
    target = parse(destination)
    body = json.dumps(record, separators=(",", ":"))
    if target.kind == SQS:
        client(SQS, target.region).send_message(QueueUrl=_queue_url(target), MessageBody=body)
    elif target.kind == SNS:
        client(SNS, target.region).publish(TopicArn=destination, Message=body)
    elif target.kind == EVENTS:
        detail_type = "Lambda Function Invocation Result - " + ("Success" if success else "Failure")
        response = client(EVENTS, target.region).put_events(
            Entries=[
                {
                    "Source": "lambda",
                    "DetailType": detail_type,
                    "Detail": body,
                    "EventBusName": destination,
                    "Resources": [destination, function_arn],
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise DeliveryError(f"PutEvents refused the entry: {response.get('Entries')}")
    elif target.kind == LAMBDA:
        return _invoke_function(destination, body.encode(), source_arn=function_arn)
    elif target.kind == WEBHOOK:
        webhook(url=destination, body=body.encode(), request_id=str(record["requestContext"]["requestId"]))
    else:
        raise DeliveryError(f"unsupported destination {destination}")
    return None


def send_dead_letter(*, destination: str, body: str, request_id: str, error_code: int, error_message: str) -> None:
    """A DLQ message: the original event as is, with AWS's three message attributes (spec §5.3)."""
    target = parse(destination)
    attributes = {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": str(error_code)},
        "ErrorMessage": {"DataType": "String", "StringValue": error_message[:ERROR_MESSAGE_LIMIT] or " "},
    }
    if target.kind == SQS:
        client(SQS, target.region).send_message(
            QueueUrl=_queue_url(target), MessageBody=body, MessageAttributes=attributes
        )
    elif target.kind == SNS:
        client(SNS, target.region).publish(TopicArn=destination, Message=body, MessageAttributes=attributes)
    else:
        raise DeliveryError(f"a dead-letter queue must be SQS or SNS, not {destination}")


def _invoke_function(arn: str, payload: bytes, *, source_arn: str) -> str:
    """Invoke a destination function as the source function's account: in that account it may; in
    another, only where the destination's policy lets that account invoke it (checked again here,
    as a permission removed since the config was written must stop the deliveries).

    Asynchronously, as AWS does (the record is the destination's event); recorded with source
    "destination", not "trigger": no event source mapping started it. Returns its request id."""
    from invocations.access import account_caller, team_of_account
    from invocations import pipeline
    from invocations.models import Invocation
    from invocations.services import invoke as invoke_service

    team = team_of_account(source_arn.split(":")[4])
    if team is None:
        raise DeliveryError(f"the account of {source_arn} no longer exists")
    request_id = str(uuid.uuid4())
    pipeline.invoke(
        pipeline.InvocationRequest(
            caller=account_caller(team),
            function_name=arn,
            payload=payload,
            invocation_type=invoke_service.EVENT,
            source=Invocation.Source.DESTINATION,
            request_id=request_id,
        )
    )
    return request_id


# --- webhooks --------------------------------------------------------------------------------------


def webhook_key() -> bytes:
    secret = settings.LAMBDA_WEBHOOK_SECRET
    if secret:
        return secret.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"lambda-workbench-webhook", hashlib.sha256).digest()


def sign(body: bytes, key: bytes | None = None) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(key or webhook_key(), body, hashlib.sha256).hexdigest()


def _allowed(host: str, address: str) -> bool:
    ip = ipaddress.ip_address(address)
    for entry in settings.LAMBDA_WEBHOOK_ALLOWED_HOSTS:
        if entry.lower() == host.lower():
            return True
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return ip.is_global and not ip.is_multicast


def vetted_address(host: str, port: int) -> str:
    """The address to connect to: resolved once here (no DNS rebinding between check and connect)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise DeliveryError(f"cannot resolve {host}: {error}") from None
    addresses = [str(info[4][0]) for info in infos]
    refused = [a for a in addresses if not _allowed(host, a)]
    if refused or not addresses:
        raise DeliveryError(
            f"webhook host {host} resolves to a non-public address ({', '.join(refused)}); "
            "add it to LAMBDA_WEBHOOK_ALLOWED_HOSTS to allow it"
        )
    return addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a vetted address, with SNI and certificate checks for the URL's host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def webhook(*, url: str, body: bytes, request_id: str) -> None:
    """POST ``body`` to ``url``; any answer but 2xx is a DeliveryError."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = vetted_address(host, port)
    timeout = settings.LAMBDA_DESTINATION_TIMEOUT_SECONDS
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = _PinnedHTTPSConnection(host, port, address, timeout)
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Host": parts.netloc.rsplit("@", 1)[-1],
        "Content-Type": "application/json",
        "User-Agent": "lambda-workbench-destination/1",
        SIGNATURE_HEADER: sign(body),
        "X-Workbench-Request-Id": request_id,
    }
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
    except OSError as error:
        raise DeliveryError(f"POST {url} failed: {error}") from None
    finally:
        conn.close()
    if not 200 <= response.status < 300:
        raise DeliveryError(f"POST {url} answered {response.status}")
