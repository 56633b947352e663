"""SigV4 verification of incoming API requests (spec §11), using botocore's own signer.

The signature is recomputed from the request exactly as received — raw (still percent-encoded)
path, raw query string, the headers the client says it signed, the body bytes — and compared in
constant time. botocore builds the canonical request, so whatever botocore signs, we check the
same way.

The payload hash is always ours: botocore's signer takes a signed ``x-amz-content-sha256`` header
at its word (that is how S3 streams), so a request signed for one body could carry another. A
client may send that header (spec §11), but it must be the SHA-256 of the body received; anything
else — ``UNSIGNED-PAYLOAD`` included — is a signature mismatch (403).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from invocations.access_keys import decrypt_secret
from invocations.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from invocations.access import Caller, user_caller
from invocations.models import AccessKey, Membership

logger = logging.getLogger(__name__)

SERVICE = "lambda"
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_AMZ_DATE_RE = re.compile(r"\d{8}T\d{6}Z", re.ASCII)
# Keys are looked up once per this many seconds per process (revocation takes effect within it).
_KEY_CACHE_SECONDS = 5.0
_LAST_USED_WRITE_SECONDS = 60.0

_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


@dataclass
class _CachedKey:
    key: AccessKey | None
    secret: str | None
    caller: Caller | None
    fetched_at: float


_key_cache: dict[str, _CachedKey] = {}


@lru_cache(maxsize=1024)
def _decrypt(token: str) -> str | None:
    return decrypt_secret(token)


def _lookup(access_key_id: str) -> _CachedKey:
    now = time.monotonic()
    cached = _key_cache.get(access_key_id)
    if cached is not None and now - cached.fetched_at < _KEY_CACHE_SECONDS:
        return cached
    key = (
        AccessKey.objects.select_related("user", "team")
        .filter(access_key_id=access_key_id, is_active=True, user__is_active=True).first()
    )  # fmt: skip
    # A key acts for its user in its team with their role there; a user no longer in the team has
    # no role there, and their key is refused like a deleted IAM user's.
    role = (
        Membership.objects.filter(team_id=key.team_id, user_id=key.user_id).values_list("role", flat=True).first()
        if key else None
    )  # fmt: skip
    if key is not None and role is None and not key.user.is_superuser:
        key = None
    caller = (
        user_caller(user=key.user, team=key.team, via="api", access_key_id=access_key_id, role=role or "")
        if key else None
    )  # fmt: skip
    entry = _CachedKey(key=key, secret=_decrypt(key.secret_encrypted) if key else None, caller=caller,
                       fetched_at=now)  # fmt: skip
    if len(_key_cache) > 10000:
        _key_cache.clear()
    _key_cache[access_key_id] = entry
    return entry


def _header(request: HttpRequest, name: str) -> str | None:
    if name == "content-type":
        return request.META.get("CONTENT_TYPE")
    if name == "content-length":
        return request.META.get("CONTENT_LENGTH")
    return request.META.get("HTTP_" + name.upper().replace("-", "_"))


def _raw_paths(request: HttpRequest) -> list[str]:
    """The path as the client sent it. WSGI servers hand over a decoded PATH_INFO, so rebuild the
    encoded form botocore sends (labels percent-encoded with only -_.~ left alone); also try the
    decoded form for clients that send ':' unencoded."""
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if raw:
        return [raw.split("?", 1)[0]]
    path = request.META.get("PATH_INFO", "/")
    encoded = "/".join(quote(segment, safe="-_.~") for segment in path.split("/"))
    return [encoded] if encoded == path else [encoded, path]


def _check_time(amz_date: str, scope_date: str) -> None:
    try:  # what strptime(amz_date, _AMZ_DATE_FORMAT) accepts, at a tenth of its cost
        if _AMZ_DATE_RE.fullmatch(amz_date) is None:
            raise ValueError(amz_date)
        signed_at = dt.datetime(
            int(amz_date[0:4]), int(amz_date[4:6]), int(amz_date[6:8]),
            int(amz_date[9:11]), int(amz_date[11:13]), int(amz_date[13:15]), tzinfo=dt.timezone.utc,
        )  # fmt: skip
    except ValueError:
        raise IncompleteSignatureException(f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.") from None
    if scope_date != amz_date[:8]:
        raise InvalidSignatureException(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    now = timezone.now()
    skew = dt.timedelta(seconds=settings.LAMBDA_SIGV4_MAX_SKEW_SECONDS)
    if signed_at < now - skew:
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is now earlier than {(now - skew).strftime(_AMZ_DATE_FORMAT)} "
            f"({now.strftime(_AMZ_DATE_FORMAT)} - 5 min.)"
        )
    if signed_at > now + skew:
        raise InvalidSignatureException(
            f"Signature not yet current: {amz_date} is still later than {(now + skew).strftime(_AMZ_DATE_FORMAT)} "
            f"({now.strftime(_AMZ_DATE_FORMAT)} + 5 min.)"
        )


def authenticate(request: HttpRequest, body: bytes | None = None) -> Caller:
    """Verify the request's SigV4 signature; return who signed it or raise an AWS auth error."""
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if not authorization:
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    match = _AUTH_RE.match(authorization)
    if match is None:
        raise IncompleteSignatureException(
            f"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. "
            f"Authorization={authorization[:100]}"
        )
    parts = match.group("credential").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise IncompleteSignatureException(f"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{match.group('credential')}'")
    access_key_id, scope_date, region, service, _ = parts
    cached = _lookup(access_key_id)
    if cached.key is None or cached.secret is None or cached.caller is None:
        raise UnrecognizedClientException("The security token included in the request is invalid.")
    if service != SERVICE:
        raise InvalidSignatureException(f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if region != settings.LAMBDA_REGION:
        raise InvalidSignatureException("Credential should be scoped to a valid region. ")
    amz_date = _header(request, "x-amz-date")
    if not amz_date:
        raise IncompleteSignatureException("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    _check_time(amz_date, scope_date)

    signed = match.group("signed").split(";")
    headers = {}
    for name in signed:
        value = _header(request, name)
        if value is None:
            raise InvalidSignatureException(_SIGNATURE_MISMATCH)
        headers[name] = value
    signer = SigV4Auth(Credentials(access_key_id, cached.secret), SERVICE, region)
    query = request.META.get("QUERY_STRING", "")
    data = request.body if body is None else body
    claimed = headers.get("x-amz-content-sha256")
    if claimed is not None and not hmac.compare_digest(claimed.lower(), hashlib.sha256(data).hexdigest()):
        raise InvalidSignatureException(_SIGNATURE_MISMATCH)
    for path in _raw_paths(request):
        aws_request = AWSRequest(
            method=request.method,
            url=f"http://{headers.get('host', 'localhost')}{path}" + (f"?{query}" if query else ""),
            headers=headers,
            data=data,
        )
        aws_request.context["timestamp"] = amz_date
        canonical = signer.canonical_request(aws_request)
        expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
        if hmac.compare_digest(expected, match.group("signature")):
            _touch(cached.key)
            return cached.caller
    raise InvalidSignatureException(_SIGNATURE_MISMATCH)


def _touch(key: AccessKey) -> None:
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > _LAST_USED_WRITE_SECONDS:
        key.last_used_at = now
        AccessKey.objects.filter(pk=key.pk).update(last_used_at=now)
