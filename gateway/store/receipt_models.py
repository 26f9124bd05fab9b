"""SQLAlchemy model of what councils' case systems sent back about delivered copies.

One row per acknowledgement file (or JSON receipt) that named a delivery the gateway made:
the council's own episode and person ids and the key it matched the child on, so a
coordinator can see where each copy landed. The raw bytes are kept sealed as an
InboundMessage (`inbound_message_id`), like every other inbound file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base, new_id


class CaseSystemReceiptRow(Base):
    """One case system's receipt for one delivered copy, as matched to the delivery."""

    __tablename__ = "case_system_receipts"
    __table_args__ = (
        Index("ix_case_system_receipts_authority_episode", "authority", "council_episode_id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), index=True)
    inbound_message_id: Mapped[str] = mapped_column(ForeignKey("inbound_messages.id"))
    authority: Mapped[str] = mapped_column(String(64))
    system: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    council_episode_id: Mapped[str | None] = mapped_column(String(64))
    council_person_id: Mapped[str | None] = mapped_column(String(64))
    matched_by: Mapped[str | None] = mapped_column(String(32))
    candidates: Mapped[int | None] = mapped_column(Integer)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    acknowledged_at: Mapped[datetime]  # when the council says it happened
    received_at: Mapped[datetime]  # when the gateway received the receipt
    sha256: Mapped[str] = mapped_column(String(64))
