from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.test import RequestFactory

from invocations.access_keys import create_access_key, revoke_access_key
from invocations.api import sigv4
from invocations.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

ARN_PATH = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Amy-fn%3Aprod/invocations"


@pytest.fixture(autouse=True)
def _clear_key_cache() -> None:
    sigv4._key_cache.clear()


def signed_request(
    key_id: str,
    secret: str,
    *,
    path: str = ARN_PATH,
    query: str = "",
    body: bytes = b'{"a": 1}',
    region: str = "us-east-1",
    service: str = "lambda",
    when: dt.datetime | None = None,
    host: str = "127.0.0.1:8000",
    tamper: dict[str, Any] | None = None,
) -> Any:
    """Sign like botocore does, then build the Django request a WSGI server would hand over."""
    url = f"http://{host}{path}" + (f"?{query}" if query else "")
    aws = AWSRequest(method="POST", url=url, data=body, headers={"X-Amz-Invocation-Type": "RequestResponse"})
    signer = SigV4Auth(Credentials(key_id, secret), service, region)
    if when is None:
        signer.add_auth(aws)
    else:
        aws.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
        aws.headers["X-Amz-Date"] = aws.context["timestamp"]
        canonical = signer.canonical_request(aws)
        signature = signer.signature(signer.string_to_sign(aws, canonical), aws)
        aws.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={key_id}/{when:%Y%m%d}/{region}/{service}/aws4_request, "
            f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(aws))}, Signature={signature}"
        )
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in aws.headers.items()}
    meta["HTTP_HOST"] = host
    meta.update(tamper or {})
    from urllib.parse import unquote

    # A WSGI server decodes the path; the verifier must rebuild the encoded form.
    request = RequestFactory().generic(
        "POST", unquote(path) + (f"?{query}" if query else ""), data=body, content_type="", **meta
    )
    request.META.pop("CONTENT_TYPE", None)
    return request


@pytest.fixture
def key(owner: Any, team: Any) -> Any:
    return create_access_key(user=owner, team=team)


def test_it_accepts_a_botocore_signature_over_a_percent_encoded_arn_path(key: Any, owner: Any) -> None:
    caller = sigv4.authenticate(signed_request(key.access_key_id, key.secret_access_key))
    assert caller.user_id == owner.pk
    assert caller.principal.arn == "arn:aws:iam::111111111111:user/alice" and caller.principal.role == "admin"


def test_it_accepts_a_signed_query_string(key: Any) -> None:
    request = signed_request(key.access_key_id, key.secret_access_key, query="Qualifier=%24LATEST")
    assert sigv4.authenticate(request).access_key_id == key.access_key_id


def test_it_accepts_a_bracketed_ipv6_host(key: Any) -> None:
    request = signed_request(key.access_key_id, key.secret_access_key, host="[::1]:8000")
    assert sigv4.authenticate(request).access_key_id == key.access_key_id


def test_it_rejects_a_wrong_secret(key: Any) -> None:
    with pytest.raises(InvalidSignatureException, match="does not match the signature you provided"):
        sigv4.authenticate(signed_request(key.access_key_id, "not-the-secret"))


def test_it_rejects_a_tampered_body(key: Any) -> None:
    request = signed_request(key.access_key_id, key.secret_access_key)
    with pytest.raises(InvalidSignatureException):
        sigv4.authenticate(request, body=b'{"a": 2}')


def signed_with_payload_hash(key: Any, *, signed_body: bytes, sent_body: bytes, claimed: str | None = None) -> Any:
    """A request whose signed ``x-amz-content-sha256`` names ``signed_body`` but carries ``sent_body``."""
    import hashlib
    from urllib.parse import unquote

    digest = claimed or hashlib.sha256(signed_body).hexdigest()
    aws = AWSRequest(method="POST", url=f"http://127.0.0.1:8000{ARN_PATH}", data=signed_body,
                     headers={"X-Amz-Content-SHA256": digest})
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "lambda", "us-east-1").add_auth(aws)
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in aws.headers.items()}
    meta["HTTP_HOST"] = "127.0.0.1:8000"
    request = RequestFactory().generic("POST", unquote(ARN_PATH), data=sent_body, content_type="", **meta)
    request.META.pop("CONTENT_TYPE", None)
    return request


def test_it_accepts_a_payload_hash_header_that_matches_the_body(key: Any) -> None:
    request = signed_with_payload_hash(key, signed_body=b'{"a": 1}', sent_body=b'{"a": 1}')
    assert sigv4.authenticate(request).access_key_id == key.access_key_id


def test_it_rejects_a_body_other_than_the_one_the_signed_payload_hash_names(key: Any) -> None:
    # The attack: sign {"a": 1} with its hash in x-amz-content-sha256, send {"a": 2}.
    request = signed_with_payload_hash(key, signed_body=b'{"a": 1}', sent_body=b'{"a": 2}')
    with pytest.raises(InvalidSignatureException, match="does not match the signature you provided"):
        sigv4.authenticate(request)


def test_it_rejects_an_unsigned_payload(key: Any) -> None:
    request = signed_with_payload_hash(key, signed_body=b"{}", sent_body=b'{"a": 2}', claimed="UNSIGNED-PAYLOAD")
    with pytest.raises(InvalidSignatureException):
        sigv4.authenticate(request)


def test_it_rejects_an_unknown_access_key(db: Any) -> None:
    with pytest.raises(UnrecognizedClientException, match="security token included in the request is invalid"):
        sigv4.authenticate(signed_request("AKIAUNKNOWNUNKNOWN00", "x"))


def test_it_rejects_a_revoked_key(key: Any, owner: Any) -> None:
    assert revoke_access_key(user=owner, access_key_id=key.access_key_id)
    with pytest.raises(UnrecognizedClientException):
        sigv4.authenticate(signed_request(key.access_key_id, key.secret_access_key))


def test_it_rejects_a_request_without_authorization(db: Any) -> None:
    request = RequestFactory().post("/2015-03-31/functions/x/invocations", data=b"{}", content_type="")
    with pytest.raises(MissingAuthenticationTokenException):
        sigv4.authenticate(request)


def test_it_rejects_a_malformed_authorization_header(key: Any) -> None:
    request = signed_request(key.access_key_id, key.secret_access_key, tamper={"HTTP_AUTHORIZATION": "AWS4 nonsense"})
    with pytest.raises(IncompleteSignatureException):
        sigv4.authenticate(request)


def test_it_rejects_signatures_older_than_five_minutes(key: Any) -> None:
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=6)
    request = signed_request(key.access_key_id, key.secret_access_key, when=old)
    with pytest.raises(InvalidSignatureException, match=r"^Signature expired: \d{8}T\d{6}Z is now earlier than"):
        sigv4.authenticate(request)


def test_it_accepts_four_minutes_of_skew(key: Any) -> None:
    skewed = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=4)
    request = signed_request(key.access_key_id, key.secret_access_key, when=skewed)
    assert sigv4.authenticate(request).access_key_id == key.access_key_id


def test_it_rejects_another_service_scope(key: Any) -> None:
    request = signed_request(key.access_key_id, key.secret_access_key, service="s3")
    with pytest.raises(InvalidSignatureException, match="correct service"):
        sigv4.authenticate(request)


def test_it_rejects_another_region_scope(key: Any) -> None:
    request = signed_request(key.access_key_id, key.secret_access_key, region="eu-west-1")
    with pytest.raises(InvalidSignatureException, match="valid region"):
        sigv4.authenticate(request)
