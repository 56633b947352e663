"""API access keys: created per user, secrets encrypted at rest.

SigV4 verification needs the secret itself (the signature is an HMAC keyed by it), so the secret is
stored encrypted with a key derived from SECRET_KEY, never in plain text.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from invocations.models import AccessKey, Team

_ID_ALPHABET = string.ascii_uppercase + "234567"


@dataclass(frozen=True)
class NewAccessKey:
    access_key_id: str
    secret_access_key: str


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"workbench-access-keys:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_secret(secret: str) -> str:
    return _fernet(settings.SECRET_KEY).encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str | None:
    try:
        return _fernet(settings.SECRET_KEY).decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def create_access_key(*, user: AbstractBaseUser, team: Team, description: str = "") -> NewAccessKey:
    """Create a key for `user` in `team`; the secret is returned once and never shown again."""
    # AWS's shape: 20 characters, "AKIA" + base32-ish; 40-character secret.
    key_id = "AKIA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
    secret = secrets.token_urlsafe(30)[:40]
    AccessKey.objects.create(
        user=user, team=team, access_key_id=key_id, secret_encrypted=encrypt_secret(secret), description=description
    )
    return NewAccessKey(access_key_id=key_id, secret_access_key=secret)


def revoke_access_key(*, user: AbstractBaseUser, access_key_id: str) -> bool:
    return AccessKey.objects.filter(user=user, access_key_id=access_key_id, is_active=True).update(is_active=False) > 0
