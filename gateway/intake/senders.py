"""API tokens per police force: issued once, stored only as a hash, checked on every post."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store import audit
from gateway.store.models import Sender

TOKEN_PREFIX = "mcg_"  # noqa: S105 - a public prefix, not a secret


def hash_token(token: str) -> str:
    """Return the stored form of a token (sha256; tokens are 256-bit random, so no salt needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, force: str, label: str, now: datetime, actor: str) -> str:
    """Create a new token for `force`, store its hash, audit it and return the token once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    sender = Sender(force=force, label=label, token_hash=hash_token(token), created_at=now)
    session.add(sender)
    session.flush()
    audit.record(session, at=now, actor=actor, action="sender.token_issued",
                 subject_type="sender", subject_id=sender.id, detail={"force": force,
                                                                      "label": label})
    return token


def force_for_token(session: Session, token: str) -> str | None:
    """Return the force a live token belongs to, or None for an unknown or revoked token."""
    sender = session.execute(
        select(Sender).where(Sender.token_hash == hash_token(token))
    ).scalar_one_or_none()
    if sender is None or sender.revoked_at is not None:
        return None
    return sender.force
