"""Read-side queries of the dashboard: what needs action today, lists, search, each scoped.

Every function takes the session, the viewer and `now`, and returns plain rows for templates.
Tracking's facts are read from its tables only (acknowledgement clocks and rows, Return Home
Interviews), and escalations and repeat-missing alerts from coordinator items, so this module
imports nothing of the tracking package's code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from gateway.accounts.roles import Viewer
from gateway.accounts.scope import (
    episode_condition,
    inbound_condition,
    item_condition,
)
from gateway.domain.enums import DeliveryStatus, EpisodeState, InboundStatus, RiskGrade
from gateway.store.models import (
    ClockRow,
    CoordinatorItemRow,
    DeliveryRow,
    EpisodeRow,
    InboundMessage,
)
from gateway.store.tracking_models import DeliveryAckRow, RepeatTriggerRow, RhiRow

# Coordinator item kinds raised when routing could not find who must act.
ROUTING_KINDS = ("no_route", "find_responsible_authority", "unknown_authority",
                 "postcode_unresolved", "outside_england", "placement_postcode_missing")
# Kinds shown in their own Today lists (or elsewhere) rather than under "other items".
_LISTED_KINDS = (*ROUTING_KINDS, "delivery_held", "quarantined")
# Clock states after which a clock needs no one here (a FAILED one raises its own item).
CLOSED_CLOCK_STATES = ("CANCELLED", "FAILED")
ACK_RECEIVED, ACK_ACCEPTED = "ack_received", "ack_accepted"  # gateway.tracking.acks
ACK_KINDS = (ACK_RECEIVED, ACK_ACCEPTED)
RHI_OPEN = ("DUE", "OFFERED", "ACCEPTED")  # gateway.tracking.rhi.OPEN
# Items tracking raises when a deadline passed: shown as escalations.
ESCALATION_KINDS = ("ack_missed", "rhi_overdue", "rhi_copy_escalation", "rhi_copy_follow_up",
                    "police_notice_late", "strategy_discussion_due", "long_term_missing",
                    "nar_cap_exceeded", "away_from_placement_limit")
RISK_ORDER = (RiskGrade.HIGH.value, RiskGrade.MEDIUM.value, RiskGrade.LOW.value,
              RiskGrade.NO_APPARENT_RISK.value)
LIST_LIMIT = 25


@dataclass(frozen=True)
class ClockView:
    """A clock that needs attention, with the episode it belongs to."""

    id: str
    kind: str
    due_at: datetime
    state: str
    episode_id: str | None
    police_reference: str | None
    authority: str | None


@dataclass
class Section:
    """One Today list: a key, a heading, how many in all and the first rows."""

    key: str
    title: str
    count: int
    rows: Sequence[Any]
    kind: str  # which row template to use: deliveries | inbound | items | clocks | episodes


@dataclass
class TodayView:
    """Everything on the Today page."""

    sections: list[Section]
    risk_counts: dict[str, int]
    open_episodes: Sequence[EpisodeRow]
    open_count: int
    generated_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Return the count of every section, by key (for the live endpoint)."""
        result = {s.key: s.count for s in self.sections}
        result["open_episodes"] = self.open_count
        return result


def _count(session: Session, stmt: Any) -> int:
    """Return the number of rows a select would give."""
    return int(session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())


def _section(session: Session, key: str, title: str, kind: str, stmt: Any,
             order: Sequence[Any], limit: int) -> Section:
    """Build one section from a select of ORM rows."""
    rows = session.execute(stmt.order_by(*order).limit(limit)).scalars().all()
    return Section(key, title, _count(session, stmt), rows, kind)


def _unacknowledged(session: Session, viewer: Viewer, now: datetime,
                    limit: int) -> tuple[int, list[ClockView]]:
    """Return deliveries whose acknowledgement deadline passed with no acknowledgement.

    Read from tracking's tables: an acknowledgement clock (kind `ack_received` or
    `ack_accepted`) due before now, not cancelled, whose step is still missing on the
    delivery's acknowledgement row.
    """
    acknowledged = case(
        (ClockRow.kind == ACK_RECEIVED, DeliveryAckRow.received_at.is_not(None)),
        (ClockRow.kind == ACK_ACCEPTED, DeliveryAckRow.accepted_at.is_not(None)),
        else_=False)
    stmt = (select(ClockRow, EpisodeRow.id, EpisodeRow.police_reference, DeliveryRow.authority)
            .join(DeliveryRow, DeliveryRow.id == ClockRow.subject_id)
            .join(EpisodeRow, EpisodeRow.id == DeliveryRow.episode_id)
            .outerjoin(DeliveryAckRow, DeliveryAckRow.delivery_id == DeliveryRow.id)
            .where(ClockRow.subject_type == "delivery", ClockRow.kind.in_(ACK_KINDS),
                   ClockRow.due_at < now, ClockRow.state.not_in(CLOSED_CLOCK_STATES),
                   ~acknowledged, episode_condition(viewer)))
    count = _count(session, stmt.with_only_columns(ClockRow.id))
    rows = session.execute(stmt.order_by(ClockRow.due_at).limit(limit)).all()
    return count, [ClockView(c.id, c.kind, c.due_at, c.state, e, ref, authority)
                   for c, e, ref, authority in rows]


def _rhi_sections(session: Session, viewer: Viewer, now: datetime,
                  limit: int) -> dict[str, tuple[int, list[ClockView]]]:
    """Return the open Return Home Interviews overdue and due in 24 hours, in one query."""
    category = case((RhiRow.due_at < now, "rhi_overdue"), else_="rhi_due")
    ranked = (select(RhiRow.id.label("id"), category.label("category"),
                     func.row_number().over(partition_by=category,
                                            order_by=RhiRow.due_at).label("rank"),
                     func.count().over(partition_by=category).label("total"))
              .join(EpisodeRow, EpisodeRow.id == RhiRow.episode_id)
              .where(RhiRow.status.in_(RHI_OPEN), RhiRow.required.is_(True),
                     RhiRow.due_at < now + timedelta(hours=24), episode_condition(viewer))
              .subquery())
    result: dict[str, tuple[int, list[ClockView]]] = {}
    for rhi, reference, key, total in session.execute(
            select(RhiRow, EpisodeRow.police_reference, ranked.c.category, ranked.c.total)
            .join(ranked, ranked.c.id == RhiRow.id)
            .join(EpisodeRow, EpisodeRow.id == RhiRow.episode_id)
            .where(ranked.c.rank <= limit).order_by(ranked.c.rank)).all():
        result.setdefault(str(key), (int(total), []))[1].append(ClockView(
            rhi.id, f"return home interview ({rhi.status.lower()})", rhi.due_at, rhi.status,
            rhi.episode_id, reference, rhi.conducting_authority or rhi.responsible_authority))
    return result


def _item_sections(session: Session, viewer: Viewer, limit: int
                   ) -> dict[str, tuple[int, list[CoordinatorItemRow]]]:
    """Return open coordinator items by Today section, in one query."""
    kind = CoordinatorItemRow.kind
    category = case(
        (kind.in_(ROUTING_KINDS), "unroutable"),
        (kind.in_(_LISTED_KINDS), None),  # shown as held deliveries and quarantined messages
        (kind.like("repeat%") | CoordinatorItemRow.id.in_(
            select(RepeatTriggerRow.item_id).where(RepeatTriggerRow.item_id.is_not(None))),
         "repeat_missing"),
        (kind.like("escalat%") | kind.in_(ESCALATION_KINDS), "escalations"),
        else_="other_items")
    ranked = (select(CoordinatorItemRow.id.label("id"), category.label("category"),
                     func.row_number().over(
                         partition_by=category,
                         order_by=CoordinatorItemRow.created_at.desc()).label("rank"),
                     func.count().over(partition_by=category).label("total"))
              .where(CoordinatorItemRow.resolved_at.is_(None), item_condition(viewer))
              .subquery())
    result: dict[str, tuple[int, list[CoordinatorItemRow]]] = {}
    for item, key, total in session.execute(
            select(CoordinatorItemRow, ranked.c.category, ranked.c.total)
            .join(ranked, ranked.c.id == CoordinatorItemRow.id)
            .where(ranked.c.rank <= limit, ranked.c.category.is_not(None))
            .order_by(ranked.c.rank)).all():
        result.setdefault(str(key), (int(total), []))[1].append(item)
    return result


def risk_rank() -> Any:
    """Return an SQL expression ordering episodes from high risk to no apparent risk."""
    return case({grade: rank for rank, grade in enumerate(RISK_ORDER)},
                value=EpisodeRow.risk_grade, else_=len(RISK_ORDER))


def today(session: Session, viewer: Viewer, now: datetime,
          limit: int = LIST_LIMIT) -> TodayView:
    """Return the counts and first rows of everything that needs action for `viewer`."""
    rhis = _rhi_sections(session, viewer, now, limit)
    items = _item_sections(session, viewer, limit)

    def rhi_section(key: str, title: str) -> Section:
        count, rows = rhis.get(key, (0, []))
        return Section(key, title, count, rows, "clocks")

    def item_section(key: str, title: str) -> Section:
        count, rows = items.get(key, (0, []))
        return Section(key, title, count, rows, "items")

    sections = [
        Section("unacknowledged", "Deliveries not acknowledged in time",
                *_unacknowledged(session, viewer, now, limit), "clocks"),
        _section(session, "held", "Held deliveries", "deliveries",
                 scoped_deliveries(viewer).where(
                     DeliveryRow.status == DeliveryStatus.HELD.value),
                 [DeliveryRow.created_at], limit),
        _section(session, "quarantined", "Quarantined messages", "inbound",
                 select(InboundMessage).where(
                     InboundMessage.status == InboundStatus.QUARANTINED.value,
                     inbound_condition(viewer)),
                 [InboundMessage.received_at.desc()], limit),
        item_section("unroutable", "Unroutable notifications"),
        rhi_section("rhi_overdue", "Return home interviews overdue"),
        rhi_section("rhi_due", "Return home interviews due in 24 hours"),
        item_section("escalations", "Escalations"),
        item_section("repeat_missing", "Repeat missing"),
        item_section("other_items", "Other open items"),
    ]
    open_condition = (EpisodeRow.state == EpisodeState.MISSING.value, episode_condition(viewer))
    risk_counts = {str(grade or "UNGRADED"): int(n) for grade, n in session.execute(
        select(EpisodeRow.risk_grade, func.count()).where(*open_condition).group_by(
            EpisodeRow.risk_grade)).all()}
    open_episodes = session.execute(select(EpisodeRow).where(*open_condition).order_by(
        risk_rank(), EpisodeRow.opened_at).limit(limit)).scalars().all()
    return TodayView(sections=sections, risk_counts=risk_counts, open_episodes=open_episodes,
                     open_count=sum(risk_counts.values()), generated_at=now)


def deliveries(session: Session, viewer: Viewer, *, status: str | None = None,
               authority: str | None = None, limit: int = 100) -> list[DeliveryRow]:
    """Return the latest deliveries the viewer may see, optionally by status and authority."""
    stmt = scoped_deliveries(viewer)
    if status:
        stmt = stmt.where(DeliveryRow.status == status)
    if authority:
        stmt = stmt.where(DeliveryRow.authority == authority)
    return list(session.execute(stmt.order_by(DeliveryRow.created_at.desc()).limit(limit))
                .scalars())


def references(session: Session, episode_ids: set[str]) -> dict[str, str]:
    """Return the police reference of each episode id given."""
    if not episode_ids:
        return {}
    return {i: ref for i, ref in session.execute(select(EpisodeRow.id, EpisodeRow.police_reference)
                                                 .where(EpisodeRow.id.in_(episode_ids))).all()}


@dataclass(frozen=True)
class SearchQuery:
    """What a person searched for; empty fields are ignored, names and dates match exactly."""

    police_reference: str = ""
    council_child_id: str = ""
    name: str = ""
    date_of_birth: str = ""
    authority: str = ""

    def is_empty(self) -> bool:
        """Say whether nothing was asked."""
        return not any((self.police_reference, self.council_child_id, self.name,
                        self.date_of_birth, self.authority))

    def as_dict(self) -> dict[str, str]:
        """Return the non-empty fields (written to the audit log)."""
        return {k: v for k, v in self.__dict__.items() if v}


def search(session: Session, viewer: Viewer, query: SearchQuery,
           limit: int = 100) -> list[EpisodeRow]:
    """Return the episodes the viewer may see that match every field given."""
    if query.is_empty():
        return []
    stmt = select(EpisodeRow).where(episode_condition(viewer))
    if query.police_reference:
        stmt = stmt.where(EpisodeRow.police_reference == query.police_reference.strip())
    if query.council_child_id:
        stmt = stmt.where(EpisodeRow.council_child_id == query.council_child_id.strip())
    if query.name:
        stmt = stmt.where(func.lower(EpisodeRow.child_name) == " ".join(
            query.name.lower().split()))
    if query.date_of_birth:
        stmt = stmt.where(EpisodeRow.child_dob == query.date_of_birth.strip())
    if query.authority:
        told = select(DeliveryRow.episode_id).where(DeliveryRow.authority == query.authority)
        stmt = stmt.where(or_(EpisodeRow.responsible_authority == query.authority,
                              EpisodeRow.host_authority == query.authority,
                              EpisodeRow.id.in_(told)))
    return list(session.execute(stmt.order_by(EpisodeRow.opened_at.desc()).limit(limit))
                .scalars())


def delivery_counts(session: Session, viewer: Viewer) -> dict[str, int]:
    """Return how many deliveries the viewer may see in each status."""
    stmt = scoped_deliveries(viewer).with_only_columns(DeliveryRow.status, func.count())
    return {str(s): int(n) for s, n in session.execute(stmt.group_by(DeliveryRow.status)).all()}


def scoped_deliveries(viewer: Viewer) -> Any:
    """Return a select of the deliveries the viewer may see (joined to their episodes)."""
    stmt = select(DeliveryRow)
    if viewer.role.sees_everything:
        return stmt
    return stmt.join(EpisodeRow, EpisodeRow.id == DeliveryRow.episode_id).where(
        episode_condition(viewer))

