"""SQLAlchemy models: inbound messages, episodes, events, deliveries, clocks, items, audit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    """Return a new random row id (UUID4 text)."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC, read back aware on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Refuse naive datetimes so that no clock is ever ambiguous."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; every time must carry an offset")
        from datetime import UTC

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Return an aware UTC datetime (SQLite gives naive ones back)."""
        if value is None:
            return None
        from datetime import UTC

        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming convention for migrations."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Sender(Base):
    """An API token issued to one police force; only its hash is kept."""

    __tablename__ = "senders"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    force: Mapped[str] = mapped_column(String(64), index=True)  # force id, or coordinator name
    role: Mapped[str] = mapped_column(String(16), default="force")  # "force" | "coordinator"
    label: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class InboundMessage(Base):
    """One message as received, sealed at rest, with what became of it."""

    __tablename__ = "inbound_messages"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    format: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16), default="https")
    sender: Mapped[str] = mapped_column(String(64), index=True)
    source_name: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    sealed_body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), index=True)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    police_reference: Mapped[str | None] = mapped_column(String(64))
    event_type: Mapped[str | None] = mapped_column(String(32))
    revision: Mapped[int | None]
    episode_id: Mapped[str | None] = mapped_column(ForeignKey("episodes.id"))
    duplicate_of: Mapped[str | None] = mapped_column(String(36))
    processed_at: Mapped[datetime | None]


class MessageKey(Base):
    """The idempotency key of an accepted message: (force, police reference, event, revision)."""

    __tablename__ = "message_keys"
    force: Mapped[str] = mapped_column(String(64), primary_key=True)
    police_reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbound_message_id: Mapped[str] = mapped_column(ForeignKey("inbound_messages.id"))


class EpisodeRow(Base):
    """The current state of one missing episode; `data` holds the canonical Episode."""

    __tablename__ = "episodes"
    __table_args__ = (UniqueConstraint("force", "police_reference"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    force: Mapped[str] = mapped_column(String(64))
    police_reference: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    risk_grade: Mapped[str | None] = mapped_column(String(32))
    child_name: Mapped[str | None] = mapped_column(String(80))
    child_dob: Mapped[str | None] = mapped_column(String(10))
    council_child_id: Mapped[str | None] = mapped_column(String(64), index=True)
    responsible_authority: Mapped[str | None] = mapped_column(String(64), index=True)
    host_authority: Mapped[str | None] = mapped_column(String(64), index=True)
    opened_at: Mapped[datetime]
    found_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    last_revision: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    revisions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # event → latest
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class EventRow(Base):
    """One notification applied to (or recorded against) an episode."""

    __tablename__ = "events"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    episode_id: Mapped[str] = mapped_column(ForeignKey("episodes.id"), index=True)
    inbound_message_id: Mapped[str | None] = mapped_column(ForeignKey("inbound_messages.id"))
    event_type: Mapped[str] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    applied: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)
    notification: Mapped[dict[str, Any]] = mapped_column(JSON)


class DeliveryRow(Base):
    """One copy of one event to one recipient team: the transactional outbox row."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "authority", "team", name="uq_deliveries_event_recipient"),
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    episode_id: Mapped[str] = mapped_column(ForeignKey("episodes.id"), index=True)
    authority: Mapped[str] = mapped_column(String(64), index=True)
    team: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    profile: Mapped[str] = mapped_column(String(32))
    channel: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    remote_ref: Mapped[str | None] = mapped_column(String(500))


class ClockRow(Base):
    """A durable timer: fires once at `due_at` unless cancelled."""

    __tablename__ = "clocks"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id", "due_at", name="uq_clocks_kind_subject_due"),
        Index("ix_clocks_state_due", "state", "due_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(48))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(36))
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="PENDING")
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    fired_at: Mapped[datetime | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CoordinatorItemRow(Base):
    """Something a person must look at; open until resolved with a note."""

    __tablename__ = "coordinator_items"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    message: Mapped[str] = mapped_column(Text)
    authority: Mapped[str | None] = mapped_column(String(64), index=True)
    force: Mapped[str | None] = mapped_column(String(64))
    episode_id: Mapped[str | None] = mapped_column(String(36), index=True)
    inbound_message_id: Mapped[str | None] = mapped_column(String(36))
    delivery_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolution_note: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """One append-only, hash-chained audit record."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
