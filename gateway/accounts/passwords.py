"""Password hashing with Argon2id (argon2-cffi), and the rules a new password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12


class _Hashing:
    """The hasher in use (argon2-cffi's RFC 9106 low-memory profile unless tests swap it)."""

    def __init__(self) -> None:
        self.hasher = PasswordHasher()
        self._dummy: str | None = None

    @property
    def dummy_hash(self) -> str:
        """Return a hash of nothing anyone knows, checked when the user does not exist, so a
        wrong name and a wrong password take the same time."""
        if self._dummy is None:
            self._dummy = self.hasher.hash("no such user: constant-time decoy")
        return self._dummy


_HASHING = _Hashing()


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Use `hasher` from now on (tests use a cheap one); return the one it replaces."""
    previous = _HASHING.hasher
    _HASHING.hasher = hasher
    _HASHING._dummy = None
    return previous


def check_strength(password: str) -> str | None:
    """Return why a new password is not acceptable, or None if it is."""
    if len(password) < MIN_LENGTH:
        return f"Password must be at least {MIN_LENGTH} characters"
    if password.strip() != password:
        return "Password must not start or end with a space"
    return None


def hash_password(password: str) -> str:
    """Return the Argon2id hash of `password`."""
    return _HASHING.hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Say whether `password` matches the hash (a missing hash is checked against a decoy)."""
    try:
        matched = _HASHING.hasher.verify(password_hash or _HASHING.dummy_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """Say whether a stored hash was made with other parameters than today's."""
    return _HASHING.hasher.check_needs_rehash(password_hash)
