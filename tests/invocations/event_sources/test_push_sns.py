"""The SNS subscription endpoint, Django tier, two ways:

* **moto in server mode** delivers to the endpoint: moto (5.2.5) POSTs notifications to HTTP
  subscribers, signed with SignatureVersion 2 and a certificate it serves itself; a local HTTP
  server receives moto's POSTs and forwards them into Django's test client. moto confirms HTTP
  subscriptions without a SubscriptionConfirmation, and leaves Subject out of what it signs, so
* **signed posts in SNS's format** cover the rest: SubscriptionConfirmation (the platform fetches
  SubscribeURL), SignatureVersion 1 (SHA1) and 2 (SHA256), Subject, UnsubscribeConfirmation and
  forgeries — signed with a test certificate served from a local HTTP URL allow-listed for the test.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.test import Client

from invocations import dispatch
from invocations.event_sources import push
from invocations.models import Function, Invocation, Trigger
from invocations.services import triggers
from tests.invocations.aws_emulator import Moto, moto_environment, moto_server, webhook_receiver
from tests.invocations.services.test_invoke import make_function
from invocations.services.teams import operator

pytestmark = pytest.mark.django_db(transaction=True)

TOPIC = "arn:aws:sns:us-east-1:123456789012:orders"


class CertServer:
    """Serves the test certificate and answers SubscribeURL like SNS's ConfirmSubscription."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = dt.datetime.now(dt.timezone.utc)
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(self.key, hashes.SHA256())
        )  # fmt: skip
        self.pem = certificate.public_bytes(serialization.Encoding.PEM)
        self.confirmations: list[str] = []
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                if self.path.endswith(".pem"):
                    body = owner.pem
                else:
                    owner.confirmations.append(self.path)
                    body = (
                        b"<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>"
                        + TOPIC.encode() + b":sub-1</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>"
                    )  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server.RequestHandlerClass = Handler
        self.server = server
        self.origin = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def sign(self, message: dict[str, Any], version: str = "2") -> dict[str, Any]:
        message = {**message, "SignatureVersion": version, "SigningCertURL": f"{self.origin}/SimpleNotificationService-test.pem"}
        algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
        signature = self.key.sign(push.canonical_string(message), padding.PKCS1v15(), algorithm)
        return {**message, "Signature": base64.b64encode(signature).decode()}


@pytest.fixture(scope="module")
def certs() -> Iterator[CertServer]:
    server = CertServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(autouse=True)
def trusted(settings: Any, certs: CertServer, tmp_path: Path) -> None:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    settings.LAMBDA_SNS_TRUSTED_HOSTS = ["*.amazonaws.com", certs.origin]
    push._certificates.clear()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[object, ...]]]:
    sent: list[tuple[str, tuple[object, ...]]] = []
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: sent.append((name, args)))
    return sent


@pytest.fixture
def echo(settings: Any) -> Function:
    return make_function("echo", code_dir=settings.LAMBDA_CODE_DIR)


def sns_trigger(function: Function, topic: str = TOPIC) -> Trigger:
    return triggers.create_trigger(caller=operator(function.team), function=function, name="orders", kind="sns", topic_arn=topic).trigger


def notification(**fields: Any) -> dict[str, Any]:
    return {
        "Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": TOPIC, "Message": "order 42",
        "Timestamp": "2024-05-01T10:00:00.000Z",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x", **fields,
    }  # fmt: skip


def deliver(trigger: Trigger, message: dict[str, Any] | bytes, **headers: str) -> Any:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    return Client().post(f"/_workbench/sns/{trigger.token}", data=body, content_type="text/plain; charset=UTF-8", **meta)


def lambda_events() -> list[dict[str, Any]]:
    return [json.loads(i.payload) for i in Invocation.objects.order_by("id")]


# --- signed posts --------------------------------------------------------------------------------


def test_a_subscription_confirmation_is_verified_and_confirmed(echo: Function, certs: CertServer) -> None:
    trigger = sns_trigger(echo)
    subscribe_url = f"{certs.origin}/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=tok"
    message = certs.sign({
        "Type": "SubscriptionConfirmation", "MessageId": str(uuid.uuid4()), "Token": "tok", "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe…", "SubscribeURL": subscribe_url, "Timestamp": "2024-05-01T10:00:00.000Z",
    })  # fmt: skip
    answer = deliver(trigger, message, **{"x-amz-sns-message-type": "SubscriptionConfirmation"})
    assert answer.status_code == 200, answer.content
    assert certs.confirmations == [subscribe_url.removeprefix(certs.origin)]
    trigger.refresh_from_db()
    assert trigger.confirmed_at is not None and trigger.subscription_arn == f"{TOPIC}:sub-1"
    assert Invocation.objects.count() == 0


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_notification_invokes_with_the_sns_event_shape(echo: Function, certs: CertServer, published: list[Any], version: str) -> None:
    trigger = sns_trigger(echo)
    message = certs.sign(
        notification(Subject="New order", MessageAttributes={"kind": {"Type": "String", "Value": "retail"}}), version
    )
    answer = deliver(trigger, message, **{"x-amz-sns-subscription-arn": f"{TOPIC}:sub-9"})
    assert answer.status_code == 200, answer.content
    (event,) = lambda_events()
    assert event == {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": f"{TOPIC}:sub-9",
        "Sns": {
            "Type": "Notification", "MessageId": message["MessageId"], "TopicArn": TOPIC, "Subject": "New order",
            "Message": "order 42", "Timestamp": "2024-05-01T10:00:00.000Z", "SignatureVersion": version,
            "Signature": message["Signature"], "SigningCertUrl": message["SigningCertURL"],
            "UnsubscribeUrl": message["UnsubscribeURL"], "MessageAttributes": {"kind": {"Type": "String", "Value": "retail"}},
        },
    }]}  # fmt: skip
    invocation = Invocation.objects.get()
    assert (invocation.source, invocation.invocation_type) == ("trigger", "Event")
    assert json.loads(answer.content)["RequestId"] == invocation.request_id


@pytest.mark.parametrize(
    ("forge", "status"),
    [
        (lambda m: {**m, "Message": "order 43"}, 403),  # changed after signing
        (lambda m: {**m, "Subject": "added"}, 403),  # a field added after signing
        (lambda m: {**m, "Signature": base64.b64encode(b"x" * 256).decode()}, 403),
        (lambda m: {**m, "SignatureVersion": "3"}, 403),
        (lambda m: {**m, "SigningCertURL": "https://evil.example.com/cert.pem"}, 403),  # untrusted host
        (lambda m: {**m, "SigningCertURL": m["SigningCertURL"].replace("http://", "https://")}, 403),  # not the listed origin
        (lambda m: {k: v for k, v in m.items() if k != "Signature"}, 403),
        (lambda m: {**m, "TopicArn": "arn:aws:sns:us-east-1:123456789012:other"}, 403),  # not this trigger's topic
        (lambda m: {**m, "Type": "Surprise"}, 400),
        (lambda m: b"not json", 400),
    ],
)
def test_forged_or_foreign_messages_are_refused(echo: Function, certs: CertServer, published: list[Any], forge: Any, status: int) -> None:
    trigger = sns_trigger(echo)
    answer = deliver(trigger, forge(certs.sign(notification())))
    assert answer.status_code == status, answer.content
    assert Invocation.objects.count() == 0
    trigger.refresh_from_db()
    assert trigger.last_error


def test_an_unknown_token_is_a_404(echo: Function, certs: CertServer) -> None:
    answer = Client().post("/_workbench/sns/nope", data=json.dumps(certs.sign(notification())), content_type="text/plain")
    assert answer.status_code == 404


def test_unsubscribe_confirmation_clears_the_subscription(echo: Function, certs: CertServer) -> None:
    trigger = sns_trigger(echo)
    Trigger.objects.filter(pk=trigger.pk).update(subscription_arn=f"{TOPIC}:sub-1", confirmed_at=dt.datetime.now(dt.timezone.utc))
    message = certs.sign({
        "Type": "UnsubscribeConfirmation", "MessageId": str(uuid.uuid4()), "Token": "tok", "TopicArn": TOPIC,
        "Message": "You have unsubscribed", "SubscribeURL": f"{certs.origin}/?Action=ConfirmSubscription", "Timestamp": "2024-05-01T10:00:00.000Z",
    })  # fmt: skip
    assert deliver(trigger, message).status_code == 200
    trigger.refresh_from_db()
    assert (trigger.subscription_arn, trigger.confirmed_at, trigger.last_result) == ("", None, "Unsubscribed")


def test_a_disabled_trigger_acknowledges_but_does_not_invoke(echo: Function, certs: CertServer, published: list[Any]) -> None:
    trigger = sns_trigger(echo)
    triggers.set_enabled(caller=operator(echo.team), function=echo, name="orders", enabled=False)
    assert deliver(trigger, certs.sign(notification())).status_code == 200
    assert Invocation.objects.count() == 0


def test_subscribe_urls_are_only_fetched_from_trusted_hosts(echo: Function, certs: CertServer) -> None:
    trigger = sns_trigger(echo)
    message = certs.sign({
        "Type": "SubscriptionConfirmation", "MessageId": str(uuid.uuid4()), "Token": "tok", "TopicArn": TOPIC,
        "Message": "…", "SubscribeURL": "http://169.254.169.254/latest/meta-data/", "Timestamp": "2024-05-01T10:00:00.000Z",
    })  # fmt: skip
    answer = deliver(trigger, message)
    assert answer.status_code == 403 and b"not a trusted SNS host" in answer.content
    trigger.refresh_from_db()
    assert trigger.confirmed_at is None


# --- moto delivering ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with moto_server() as server, moto_environment(server):
        yield server


def test_moto_sns_delivers_verified_notifications_to_the_endpoint(echo: Function, moto: Moto, published: list[Any]) -> None:
    sns = moto.client("sns")
    topic = sns.create_topic(Name=f"orders-{uuid.uuid4().hex[:6]}")["TopicArn"]
    trigger = sns_trigger(echo, topic)
    with webhook_receiver() as receiver:
        endpoint = receiver.url.replace("/hooks/lambda", f"/_workbench/sns/{trigger.token}")
        subscription = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint, ReturnSubscriptionArn=True)
        sns.publish(TopicArn=topic, Message=json.dumps({"order": 42}), MessageAttributes={"kind": {"DataType": "String", "StringValue": "retail"}})
        deadline = time.monotonic() + 10
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    (headers, body), = receiver.requests
    path = f"/_workbench/sns/{trigger.token}"
    answer = Client().post(path, data=body, content_type=headers.get("Content-Type", "text/plain"))
    assert answer.status_code == 200, answer.content
    (event,) = lambda_events()
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns" and record["Sns"]["TopicArn"] == topic
    assert json.loads(record["Sns"]["Message"]) == {"order": 42}
    assert record["Sns"]["SignatureVersion"] == "2"
    assert record["Sns"]["SigningCertUrl"].startswith("https://sns.us-east-1.amazonaws.com/")
    trigger.refresh_from_db()
    assert trigger.confirmed_at is not None and trigger.invocation_count == 1
    assert subscription["SubscriptionArn"].startswith(topic)
    # The same bytes with the message altered do not verify against moto's certificate.
    forged = json.loads(body)
    forged["Message"] = "tampered"
    assert Client().post(path, data=json.dumps(forged), content_type="text/plain").status_code == 403


def test_the_api_can_subscribe_the_endpoint_itself(echo: Function, moto: Moto) -> None:
    sns = moto.client("sns")
    topic = sns.create_topic(Name=f"auto-{uuid.uuid4().hex[:6]}")["TopicArn"]
    trigger = triggers.create_trigger(caller=operator(echo.team), function=echo, name="auto", kind="sns", topic_arn=topic, subscribe_endpoint="http://workbench.example:8000/"
    ).trigger
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert subscription["Endpoint"] == f"http://workbench.example:8000/_workbench/sns/{trigger.token}"
    assert subscription["Protocol"] == "http"
    trigger.refresh_from_db()
    assert trigger.subscription_arn == subscription["SubscriptionArn"]
