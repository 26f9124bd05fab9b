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


def issue_token(session: Session, force: str, label: str, now: datetime, actor: str,
                role: str = "force") -> str:
    """Create a token for a force (or a coordinator), store its hash, audit it, return it once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    sender = Sender(force=force, role=role, label=label, token_hash=hash_token(token),
                    created_at=now)
    session.add(sender)
    session.flush()
    audit.record(session, at=now, actor=actor, action="sender.token_issued",
                 subject_type="sender", subject_id=sender.id,
                 detail={"force": force, "role": role, "label": label})
    return token


def sender_for_token(session: Session, token: str) -> Sender | None:
    """Return the live sender a token belongs to, or None for an unknown or revoked token."""
    sender = session.execute(
        select(Sender).where(Sender.token_hash == hash_token(token))
    ).scalar_one_or_none()
    if sender is None or sender.revoked_at is not None:
        return None
    return sender


def force_for_token(session: Session, token: str) -> str | None:
    """Return the force a live force token belongs to, or None (coordinator tokens too)."""
    sender = sender_for_token(session, token)
    return sender.force if sender is not None and sender.role == "force" else None


def coordinator_for_token(session: Session, token: str) -> str | None:
    """Return the coordinator name of a live coordinator token, or None."""
    sender = sender_for_token(session, token)
    return sender.force if sender is not None and sender.role == "coordinator" else None
