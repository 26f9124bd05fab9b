"""The optional second factor: time-based one-time passwords (RFC 6238) through pyotp."""

from __future__ import annotations

from datetime import datetime

import pyotp

ISSUER = "Missing children gateway"


def new_secret() -> str:
    """Return a new random base32 TOTP secret."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    """Return the otpauth:// address an authenticator app enrols from."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def code_at(secret: str, at: datetime) -> str:
    """Return the code valid at `at` (for tests and set-up checks)."""
    return pyotp.TOTP(secret).at(at)


def verify_code(secret: str, code: str, at: datetime) -> bool:
    """Say whether `code` is valid at `at`, allowing one 30-second step of clock drift."""
    cleaned = code.replace(" ", "").strip()
    if not cleaned.isdigit():
        return False
    return pyotp.TOTP(secret).verify(cleaned, for_time=at, valid_window=1)
