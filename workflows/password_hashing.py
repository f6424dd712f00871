"""Password hashing (argon2id), for mandataires and staff alike."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

#: argon2id, RFC 9106 second recommendation: t=3, m=64 MiB, p=4.
hasher = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)


@cache
def _dummy_hash() -> str:
    """Hashed once, so a login with an unknown email costs the same time as a wrong
    password; on first use, not at import: argon2 takes 64 MiB for it, which a worker
    (it imports the portal's registry, never checks a password) would keep as its peak."""
    return hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
