"""Login throttling: too many failed sign-ins for a name or from an address lock it a while.

Attempts are kept in the database, so every web process sees the same count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.store.account_models import LoginAttemptRow


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures in what window lock a user name, or an address."""

    window: timedelta = timedelta(minutes=15)
    per_username: int = 5
    per_address: int = 20


def is_locked(session: Session, username: str, remote_addr: str, now: datetime,
              policy: ThrottlePolicy = ThrottlePolicy()) -> bool:
    """Say whether sign-in for this name, or from this address, is locked right now."""
    since = now - policy.window
    by_name = session.execute(select(func.count()).select_from(LoginAttemptRow).where(
        LoginAttemptRow.username == username, LoginAttemptRow.at > since,
        LoginAttemptRow.succeeded.is_(False))).scalar_one()
    if by_name >= policy.per_username:
        return True
    by_address = session.execute(select(func.count()).select_from(LoginAttemptRow).where(
        LoginAttemptRow.remote_addr == remote_addr, LoginAttemptRow.at > since,
        LoginAttemptRow.succeeded.is_(False))).scalar_one()
    return bool(by_address >= policy.per_address)


def record_attempt(session: Session, username: str, remote_addr: str, now: datetime,
                   succeeded: bool) -> None:
    """Record one sign-in attempt."""
    session.add(LoginAttemptRow(username=username[:120], remote_addr=remote_addr[:64], at=now,
                                succeeded=succeeded))
