"""SQLAlchemy models of tracking: episodes as tracking sees them, RHIs, acks, repeat triggers.

Clocks themselves are `ClockRow` in gateway/store/models.py; these tables hold the facts the
clocks read when they fire, so a firing never has to parse an episode's JSON.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base, new_id


class TrackedEpisodeRow(Base):
    """One episode's tracking facts: who owns it, the child's key, last police update."""

    __tablename__ = "tracking_episodes"
    __table_args__ = (Index("ix_tracking_episodes_child_opened", "child_key", "opened_at"),)
    episode_id: Mapped[str] = mapped_column(ForeignKey("episodes.id"), primary_key=True)
    force: Mapped[str] = mapped_column(String(64))
    child_key: Mapped[str | None] = mapped_column(String(160))
    owner_authority: Mapped[str | None] = mapped_column(String(64))
    home_authority: Mapped[str | None] = mapped_column(String(64))
    responsible_authority: Mapped[str | None] = mapped_column(String(64))
    host_authority: Mapped[str | None] = mapped_column(String(64))
    looked_after: Mapped[bool] = mapped_column(Boolean, default=False)
    risk_grade: Mapped[str | None] = mapped_column(String(32))
    opened_at: Mapped[datetime]
    received_at: Mapped[datetime]
    last_police_update_at: Mapped[datetime | None]
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class RhiRow(Base):
    """One Return Home Interview owed after an episode: who, by when, and what became of it."""

    __tablename__ = "tracking_rhis"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    episode_id: Mapped[str] = mapped_column(ForeignKey("episodes.id"), unique=True)
    child_key: Mapped[str | None] = mapped_column(String(160), index=True)
    responsible_authority: Mapped[str | None] = mapped_column(String(64), index=True)
    conducting_authority: Mapped[str | None] = mapped_column(String(64), index=True)
    host_authority: Mapped[str | None] = mapped_column(String(64))
    looked_after: Mapped[bool] = mapped_column(Boolean, default=False)
    risk_grade: Mapped[str | None] = mapped_column(String(32))
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    clock_start: Mapped[str] = mapped_column(String(16))
    start_at: Mapped[datetime]
    due_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    offered_at: Mapped[datetime | None]
    accepted: Mapped[str] = mapped_column(String(2), default="NA")  # Y / N / NA (Annex A)
    outcome_at: Mapped[datetime | None]
    outcome_by: Mapped[str | None] = mapped_column(String(120))
    late_reason: Mapped[str | None] = mapped_column(Text)
    unsuccessful_attempts: Mapped[int] = mapped_column(Integer, default=0)
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RhiAttemptRow(Base):
    """One attempt to hold a Return Home Interview: phone, letter or visit."""

    __tablename__ = "tracking_rhi_attempts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    rhi_id: Mapped[str] = mapped_column(ForeignKey("tracking_rhis.id"), index=True)
    at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(16))
    successful: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(120))
    recorded_at: Mapped[datetime]


class DeliveryAckRow(Base):
    """Where one delivery stands on the acknowledgement ladder: sent → received → accepted."""

    __tablename__ = "tracking_delivery_acks"
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), primary_key=True)
    authority: Mapped[str] = mapped_column(String(64), index=True)
    first_sent_at: Mapped[datetime]
    received_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    step: Mapped[int] = mapped_column(Integer, default=0)  # 0 sent, 1 re-sent, 2 alternate
    alternate_of: Mapped[str | None] = mapped_column(String(36), index=True)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)


class RepeatTriggerRow(Base):
    """A repeat-missing threshold reached for one child in one authority, and its meeting."""

    __tablename__ = "tracking_repeat_triggers"
    __table_args__ = (
        Index("ix_tracking_repeat_triggers_child", "child_key", "authority", "item"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    child_key: Mapped[str] = mapped_column(String(160))
    authority: Mapped[str] = mapped_column(String(64))
    item: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    window_days: Mapped[int] = mapped_column(Integer)
    episode_id: Mapped[str] = mapped_column(String(36))
    raised_at: Mapped[datetime]
    due_at: Mapped[datetime]
    item_id: Mapped[str | None] = mapped_column(String(36))
