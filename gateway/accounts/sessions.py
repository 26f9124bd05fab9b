"""Dashboard sessions: a random cookie token whose hash is stored, with idle and hard expiry.

Each session carries its own CSRF token (the synchronizer-token pattern): every form posts it
back and it must match the one stored for the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.account_models import UserRow, UserSessionRow

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)


@dataclass(frozen=True)
class LiveSession:
    """A session found valid for a request."""

    id: str
    user: UserRow
    csrf_token: str
    second_factor_pending: bool


def _hash(token: str) -> str:
    """Return the stored form of a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(session: Session, user: UserRow, now: datetime, *,
                  second_factor_pending: bool) -> str:
    """Create a session for `user` and return the cookie token (shown once, never stored)."""
    token = secrets.token_urlsafe(32)
    session.add(UserSessionRow(token_hash=_hash(token), user_id=user.id,
                               csrf_token=secrets.token_urlsafe(32),
                               second_factor_pending=second_factor_pending, created_at=now,
                               last_seen_at=now, expires_at=now + ABSOLUTE_TIMEOUT))
    session.flush()
    return token


def load_session(session: Session, token: str | None, now: datetime, *,
                 touch: bool = True) -> LiveSession | None:
    """Return the live session for a cookie token, or None if unknown, ended or expired."""
    if not token:
        return None
    row = session.execute(select(UserSessionRow).where(
        UserSessionRow.token_hash == _hash(token))).scalar_one_or_none()
    if row is None or row.ended_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= IDLE_TIMEOUT:
        return None
    user = session.get(UserRow, row.user_id)
    if user is None or not user.active:
        return None
    # Touch at most once a minute, so that polling pages do not write on every request.
    if touch and now - row.last_seen_at >= timedelta(minutes=1):
        row.last_seen_at = now
    return LiveSession(id=row.id, user=user, csrf_token=row.csrf_token,
                       second_factor_pending=row.second_factor_pending)


def complete_second_factor(session: Session, session_id: str, now: datetime) -> None:
    """Mark a session's second factor as passed."""
    row = session.get(UserSessionRow, session_id)
    if row is not None:
        row.second_factor_pending = False
        row.last_seen_at = now


def end_session(session: Session, token: str | None, now: datetime) -> None:
    """End the session of a cookie token (sign out)."""
    if not token:
        return
    row = session.execute(select(UserSessionRow).where(
        UserSessionRow.token_hash == _hash(token))).scalar_one_or_none()
    if row is not None and row.ended_at is None:
        row.ended_at = now


def csrf_matches(expected: str, given: str | None) -> bool:
    """Say whether a posted CSRF token matches the session's, in constant time."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
