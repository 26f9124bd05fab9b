"""Password hashing with Argon2id (argon2-cffi), and the rules a new password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12

_HASHER = PasswordHasher()
# A hash of nothing anyone knows, verified against when the user does not exist, so that a
# wrong name and a wrong password take the same time.
_DUMMY_HASH = _HASHER.hash("no such user: constant-time decoy")


def check_strength(password: str) -> str | None:
    """Return why a new password is not acceptable, or None if it is."""
    if len(password) < MIN_LENGTH:
        return f"Password must be at least {MIN_LENGTH} characters"
    if password.strip() != password:
        return "Password must not start or end with a space"
    return None


def hash_password(password: str) -> str:
    """Return the Argon2id hash of `password`."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Say whether `password` matches the hash (a missing hash is checked against a decoy)."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Say whether a stored hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(password_hash)
