"""What every tracking rule needs: the directory, the delivery writer, and tracking policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from gateway.domain.routing import CoordinatorItem, Recipient
from routing.directory import Authority, AuthorityRules, Directory


class DeliveryWriter(Protocol):
    """The part of the pipeline tracking uses: outbox rows and coordinator items."""

    def create_delivery(self, session: Session, episode_id: str, event_id: str,
                        recipient: Recipient, now: datetime) -> str:
        """Write one outbox row and return its id."""
        ...

    def raise_item(self, session: Session, item: CoordinatorItem, now: datetime, *,
                   episode_id: str | None = None, inbound_id: str | None = None,
                   delivery_id: str | None = None, force: str | None = None) -> str:
        """Record a coordinator item and return its id."""
        ...


@dataclass(frozen=True)
class Policy:
    """Tracking settings that the directory does not carry, with the seeds' defaults."""

    rhi_reminder_hours: float = 48.0  # "reminder before due (default at 48 h)"
    other_council_reminder_days: int = 14  # 001 L392: reminder 2 weeks after the due date
    other_council_follow_up_days: int = 14  # 001 L392: "two weeks after that"
    max_unsuccessful_attempts: int = 3  # 001 L378: declined after MORE than three
    consecutive_declines: int = 3  # 003 L569: 3 consecutive declines → meeting
    meeting_working_days: int = 5  # 003 L573: meetings within 5 working days of the trigger
    long_term_days: tuple[int, ...] = (28, 42)  # 28 days, 6 weeks (001 L290-302)
    long_term_months: tuple[int, ...] = (2, 3, 6)  # 2, 3 and 6 months (003 L631-633)
    away_from_placement_hours: float = 6.0  # 004 L281
    lease: timedelta = timedelta(minutes=5)
    batch: int = 500


@dataclass
class TrackingContext:
    """The directory, the delivery writer and the policy; shared by every tracking module."""

    directory: Directory
    writer: DeliveryWriter
    policy: Policy = field(default_factory=Policy)

    def authority(self, authority_id: str | None) -> Authority | None:
        """Return a directory authority by id, or None."""
        return self.directory.authority(authority_id) if authority_id else None

    def rules(self, authority_id: str | None) -> AuthorityRules:
        """Return an authority's rules, or the defaults when it is not in the directory."""
        authority = self.authority(authority_id)
        return authority.rules if authority is not None else AuthorityRules()
