"""Push triggers: a generic signed webhook and an SNS HTTP(S) subscription endpoint.

**Webhook** (``POST /_workbench/hooks/{token}``): the body is the event (JSON). Two secrets guard
it: the token in the URL, and ``X-Workbench-Signature: sha256=<hex HMAC-SHA256(body)>`` keyed by
the trigger's secret (shown once when the trigger is created) — the same header this platform puts
on its own webhook destinations (``destinations.sign``).

**SNS** (``POST /_workbench/sns/{token}``), following "Verifying the signatures of Amazon SNS
messages" and "Parsing message formats" in the SNS developer guide:

* every message (SubscriptionConfirmation, Notification, UnsubscribeConfirmation) is verified
  before anything else: ``SigningCertURL`` must be https on a trusted host (``*.amazonaws.com`` by
  default, ``LAMBDA_SNS_TRUSTED_HOSTS``), the certificate's RSA key must verify ``Signature`` over
  the canonical string — ``Key\\nValue\\n`` for Message, MessageId, Subject (if present),
  Timestamp, TopicArn, Type (notifications) or Message, MessageId, SubscribeURL, Timestamp, Token,
  TopicArn, Type (confirmations) — with SHA1 (``SignatureVersion`` 1) or SHA256 (2);
* ``TopicArn`` must be the trigger's topic;
* SubscriptionConfirmation: the platform GETs ``SubscribeURL`` (trusted hosts only) and records
  the subscription ARN from the ConfirmSubscription answer;
* Notification: the function is invoked asynchronously with the Lambda SNS event shape.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import http.client
import os
import re
import threading
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.utils import timezone

from invocations import destinations, json_input
from invocations.models import Trigger

SIGNATURE_HEADER: Final = "X-Workbench-Signature"
FETCH_TIMEOUT: Final = 10.0
MAX_FETCH_BYTES: Final = 65536
NOTIFICATION_KEYS: Final = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_KEYS: Final = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
MESSAGE_TYPES: Final = ("SubscriptionConfirmation", "Notification", "UnsubscribeConfirmation")
_SNS_CERT_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_SUBSCRIPTION_ARN = re.compile(r"<SubscriptionArn>([^<]+)</SubscriptionArn>")


class PushRefused(Exception):
    """The push is refused; ``status`` is the HTTP answer (400 malformed, 403 not authentic)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- webhook -----------------------------------------------------------------------------------------


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_webhook(*, secret: str | None, body: bytes, header: str | None) -> None:
    if not secret:
        raise PushRefused(403, "This trigger has no signing secret.")
    if not header:
        raise PushRefused(401, f"The {SIGNATURE_HEADER} header is missing: sha256=<hex HMAC-SHA256 of the body>.")
    if not hmac.compare_digest(header.strip().encode(), webhook_signature(secret, body).encode()):
        raise PushRefused(403, f"The {SIGNATURE_HEADER} header does not match the body.")


def webhook_event(body: bytes) -> bytes:
    """The body as the event: it must be JSON (a Lambda event is)."""
    try:
        json_input.loads(body.decode("utf-8") if body else "")
    except (UnicodeDecodeError, ValueError) as error:
        raise PushRefused(400, f"The body must be a JSON document: {error}") from None
    return body


# --- SNS: trusted fetches ----------------------------------------------------------------------------


def _trusted(url: str) -> str | None:
    """"origin" (an exact origin the operator listed), "host" (https on a listed host pattern) or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    for entry in settings.LAMBDA_SNS_TRUSTED_HOSTS:
        entry = entry.lower().rstrip("/")
        if entry.startswith(("http://", "https://")):
            if origin == entry:
                return "origin"
        elif parts.scheme == "https" and fnmatch.fnmatchcase(host, entry):
            return "host"
    return None


def _emulated(url: str) -> str:
    """With AWS_ENDPOINT_URL_SNS (moto, LocalStack), SNS's own certificate URLs live there."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_SNS")
    parts = urlsplit(url)
    if endpoint and _SNS_CERT_HOST.match(parts.hostname or ""):
        return endpoint.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    return url


def _emulator_headers(url: str, emulated: str) -> dict[str, str]:
    """Requests to an emulator are SigV4-signed for "sns" (moto routes unsigned GETs to S3)."""
    headers = {"User-Agent": "lambda-workbench-sns/1"}
    if emulated == url:
        return headers
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    region = (urlsplit(url).hostname or "").split(".")[1]
    request = AWSRequest(method="GET", url=emulated, headers=headers)
    credentials = Credentials(os.environ.get("AWS_ACCESS_KEY_ID", "test"), os.environ.get("AWS_SECRET_ACCESS_KEY", "test"))
    SigV4Auth(credentials, "sns", region).add_auth(request)
    return dict(request.headers.items())


def fetch(url: str) -> bytes:
    """GET a trusted URL (certificate, SubscribeURL); anything else is refused before connecting."""
    trust = _trusted(url)
    if trust is None:
        raise PushRefused(403, f"{urlsplit(url).hostname or url} is not a trusted SNS host (LAMBDA_SNS_TRUSTED_HOSTS).")
    emulated = _emulated(url)
    target = urlsplit(emulated)
    host = target.hostname or ""
    port = target.port or (443 if target.scheme == "https" else 80)
    conn: http.client.HTTPConnection
    if trust == "host" and emulated == url:
        # A public host by pattern: resolved and vetted once, connected to that address (no DNS
        # rebinding to a private one in between), with the certificate checked for the host name.
        try:
            address = destinations.vetted_address(host, port)
        except destinations.DeliveryError as error:
            raise PushRefused(403, str(error)) from None
        conn = destinations._PinnedHTTPSConnection(host, port, address, FETCH_TIMEOUT)
    elif target.scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=FETCH_TIMEOUT)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=FETCH_TIMEOUT)
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    try:
        conn.request("GET", path, headers=_emulator_headers(url, emulated))
        response = conn.getresponse()
        body = response.read(MAX_FETCH_BYTES + 1)
    except OSError as error:
        raise PushRefused(502, f"GET {url} failed: {error}") from None
    finally:
        conn.close()
    if response.status != 200 or len(body) > MAX_FETCH_BYTES:
        raise PushRefused(502, f"GET {url} answered {response.status}")
    return body


_certificates: dict[str, rsa.RSAPublicKey] = {}
_certificates_lock = threading.Lock()


def _public_key(url: str) -> rsa.RSAPublicKey:
    with _certificates_lock:
        cached = _certificates.get(url)
    if cached is not None:
        return cached
    try:
        certificate = x509.load_pem_x509_certificate(fetch(url))
    except ValueError:
        raise PushRefused(403, "SigningCertURL did not return a PEM certificate.") from None
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise PushRefused(403, "The signing certificate's key is not RSA.")
    with _certificates_lock:
        if len(_certificates) > 64:
            _certificates.clear()
        _certificates[url] = key
    return key


# --- SNS: messages -----------------------------------------------------------------------------------


def canonical_string(message: dict[str, Any]) -> bytes:
    """The string SNS signs, "Key\\nValue\\n" per field in AWS's order (absent Subject skipped)."""
    keys = NOTIFICATION_KEYS if message.get("Type") == "Notification" else CONFIRMATION_KEYS
    lines = []
    for key in keys:
        if key == "Subject" and message.get("Subject") is None:
            continue
        value = message.get(key)
        if not isinstance(value, str):
            raise PushRefused(400, f"The SNS message has no {key}.")
        lines.append(f"{key}\n{value}\n")
    return "".join(lines).encode("utf-8")


def verify_sns(message: dict[str, Any]) -> None:
    version = message.get("SignatureVersion")
    algorithm: hashes.HashAlgorithm
    if version == "1":
        algorithm = hashes.SHA1()  # noqa: S303 - SNS's SignatureVersion 1 is SHA1withRSA
    elif version == "2":
        algorithm = hashes.SHA256()
    else:
        raise PushRefused(403, f"Unsupported SignatureVersion {version!r} (1 or 2).")
    cert_url = message.get("SigningCertURL") or message.get("SigningCertUrl")
    signature_text = message.get("Signature")
    if not isinstance(cert_url, str) or not isinstance(signature_text, str):
        raise PushRefused(403, "The SNS message is not signed (Signature, SigningCertURL).")
    try:
        signature = base64.b64decode(signature_text, validate=True)
    except ValueError:
        raise PushRefused(403, "Signature is not base64.") from None
    data = canonical_string(message)
    try:
        _public_key(cert_url).verify(signature, data, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise PushRefused(403, "The SNS message signature does not verify.") from None


def parse_sns(body: bytes, header_type: str | None) -> dict[str, Any]:
    try:
        message = json_input.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise PushRefused(400, "The body is not an SNS message (JSON).") from None
    if not isinstance(message, dict) or message.get("Type") not in MESSAGE_TYPES:
        raise PushRefused(400, f"The SNS message Type must be one of {', '.join(MESSAGE_TYPES)}.")
    if header_type and header_type != message["Type"]:
        raise PushRefused(400, "x-amz-sns-message-type does not match the message's Type.")
    return message


def lambda_event(message: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The event Lambda receives from an SNS subscription (one record per notification)."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": message["Type"],
                    "MessageId": message["MessageId"],
                    "TopicArn": message["TopicArn"],
                    "Subject": message.get("Subject"),
                    "Message": message["Message"],
                    "Timestamp": message["Timestamp"],
                    "SignatureVersion": message["SignatureVersion"],
                    "Signature": message["Signature"],
                    "SigningCertUrl": message.get("SigningCertURL") or message.get("SigningCertUrl"),
                    "UnsubscribeUrl": message.get("UnsubscribeURL") or message.get("UnsubscribeUrl"),
                    "MessageAttributes": message.get("MessageAttributes") or {},
                },
            }
        ]
    }


@dataclass(frozen=True)
class SnsOutcome:
    kind: str  # the message Type
    request_id: str | None = None  # the invocation of a Notification


def handle_sns(trigger: Trigger, *, body: bytes, headers: dict[str, str]) -> SnsOutcome:
    """Verify and act on one SNS POST; raises PushRefused. Notifications invoke the function."""
    from invocations.event_sources import stats
    from invocations.services.triggers import invoke_and_record

    message = parse_sns(body, headers.get("x-amz-sns-message-type"))
    if message.get("TopicArn") != trigger.topic_arn:
        raise PushRefused(403, "The message's TopicArn is not this trigger's topic.")
    verify_sns(message)
    kind = message["Type"]
    if kind == "SubscriptionConfirmation":
        subscribe_url = message.get("SubscribeURL")
        if not isinstance(subscribe_url, str):
            raise PushRefused(400, "SubscriptionConfirmation without SubscribeURL.")
        answer = fetch(subscribe_url).decode("utf-8", "replace")
        found = _SUBSCRIPTION_ARN.search(answer)
        arn = found.group(1) if found else trigger.subscription_arn
        Trigger.objects.filter(pk=trigger.pk).update(subscription_arn=arn, confirmed_at=timezone.now())
        stats.record_trigger(trigger, result="Subscription confirmed")
        return SnsOutcome(kind=kind)
    if kind == "UnsubscribeConfirmation":
        Trigger.objects.filter(pk=trigger.pk).update(confirmed_at=None, subscription_arn="")
        stats.record_trigger(trigger, result="Unsubscribed")
        return SnsOutcome(kind=kind)
    subscription_arn = headers.get("x-amz-sns-subscription-arn") or trigger.subscription_arn or trigger.topic_arn
    if not trigger.enabled:
        stats.record_trigger(trigger, result="Dropped: trigger disabled")
        return SnsOutcome(kind=kind)
    if trigger.confirmed_at is None:
        # A verified notification proves the subscription (emulators such as moto skip confirmation).
        Trigger.objects.filter(pk=trigger.pk, confirmed_at__isnull=True).update(confirmed_at=timezone.now())
    request_id = invoke_and_record(trigger, lambda_event(message, subscription_arn))
    return SnsOutcome(kind=kind, request_id=request_id)
