"""The append-only, hash-chained audit log: every receipt, decision, delivery and view."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gateway.store.models import AuditEntry

GENESIS = "0" * 64


def _digest(prev_hash: str, at: datetime, actor: str, action: str, subject_type: str,
            subject_id: str, detail: dict[str, Any]) -> str:
    """Return the sha256 that links one entry to the one before it."""
    body = json.dumps(
        [prev_hash, at.isoformat(), actor, action, subject_type, subject_id, detail],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(session: Session, *, at: datetime, actor: str, action: str, subject_type: str,
           subject_id: str, detail: dict[str, Any] | None = None) -> AuditEntry:
    """Append one audit entry chained to the latest, inside the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        # One appender at a time across every process, released at commit.
        session.execute(text("SELECT pg_advisory_xact_lock(421337)"))
    last = session.execute(
        select(AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).scalar_one_or_none()
    prev_hash = last or GENESIS
    payload = detail or {}
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        detail=payload,
        prev_hash=prev_hash,
        hash=_digest(prev_hash, at, actor, action, subject_type, subject_id, payload),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    """The result of walking the audit chain."""

    ok: bool
    entries: int
    broken_at: int | None = None
    reason: str = ""


def verify_chain(session: Session) -> ChainReport:
    """Walk every entry in order and check each hash and link; report the first break."""
    prev_hash = GENESIS
    count = 0
    for entry in session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars():
        count += 1
        if entry.prev_hash != prev_hash:
            return ChainReport(False, count, entry.seq, "link to the previous entry is broken")
        expected = _digest(entry.prev_hash, entry.at, entry.actor, entry.action,
                           entry.subject_type, entry.subject_id, entry.detail)
        if expected != entry.hash:
            return ChainReport(False, count, entry.seq, "entry was altered after it was written")
        prev_hash = entry.hash
    return ChainReport(True, count)
