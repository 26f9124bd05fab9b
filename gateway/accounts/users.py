"""Creating, finding and checking dashboard users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.accounts.passwords import check_strength, hash_password, needs_rehash, verify_password
from gateway.accounts.roles import Role, Viewer
from gateway.store import audit
from gateway.store.account_models import UserRow


class AccountError(ValueError):
    """A user cannot be created as asked; the message says why, for the person asking."""


def create_user(session: Session, *, username: str, password: str, role: Role,
                organisation: str | None, now: datetime, actor: str,
                display_name: str = "", totp_secret: str | None = None) -> UserRow:
    """Create a user, check the name, role, organisation and password, and audit it."""
    username = username.strip().lower()
    if not username or len(username) > 120 or any(c.isspace() for c in username):
        raise AccountError("User name must be 1 to 120 characters with no spaces")
    if role.needs_organisation and not organisation:
        raise AccountError(f"A {role.label.lower()} must belong to an authority or force")
    if not role.needs_organisation:
        organisation = None
    weakness = check_strength(password)
    if weakness:
        raise AccountError(weakness)
    if session.execute(select(UserRow.id).where(UserRow.username == username)).first():
        raise AccountError(f"User {username!r} already exists")
    user = UserRow(username=username, display_name=display_name or username, role=role.value,
                   organisation=organisation, password_hash=hash_password(password),
                   totp_secret=totp_secret, active=True, created_at=now)
    session.add(user)
    session.flush()
    audit.record(session, at=now, actor=actor, action="user.created", subject_type="user",
                 subject_id=user.id, detail={"username": username, "role": role.value,
                                             "organisation": organisation,
                                             "second_factor": totp_secret is not None})
    return user


def find_user(session: Session, username: str) -> UserRow | None:
    """Return the active user with this name, or None."""
    user = session.execute(select(UserRow).where(
        UserRow.username == username.strip().lower())).scalar_one_or_none()
    return user if user is not None and user.active else None


def check_password(session: Session, username: str, password: str) -> UserRow | None:
    """Return the user if the password is right (rehashing an old hash), else None."""
    user = find_user(session, username)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def viewer_for(user: UserRow) -> Viewer:
    """Return the request-side view of a user."""
    return Viewer(user_id=user.id, username=user.username, role=Role(user.role),
                  organisation=user.organisation, display_name=user.display_name)
