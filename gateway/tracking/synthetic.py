"""Synthetic episodes written straight to the store, for the simulation and clock tests.

These stand in for the pipeline when thousands of episodes must be driven quickly: they
write the same episode, event and delivery rows the pipeline writes and hand the tracking
listener the same `AppliedEvent`, but skip parsing, routing and rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy.orm import Session

from gateway.domain.enums import (
    DeliveryStatus,
    EventType,
    LegalStatus,
    PlacementType,
    RecipientRole,
    RiskGrade,
)
from gateway.domain.episode import Episode
from gateway.domain.model import Child, FoundDetails, Notification, Placement, RiskAssessment
from gateway.domain.routing import RoutingDecision
from gateway.domain.schemas import episode_from_json, episode_to_json, notification_to_json
from gateway.pipeline import AppliedEvent, channel_to_json
from gateway.store.models import DeliveryRow, EpisodeRow, EventRow, new_id
from routing.directory import Directory


@dataclass(frozen=True)
class Case:
    """One synthetic child and episode: who, where, which councils, what risk."""

    force: str
    reference: str
    given_name: str
    family_name: str
    date_of_birth: date
    grade: RiskGrade
    looked_after: bool
    home: str | None = None
    responsible: str | None = None
    host: str | None = None
    council_child_id: str | None = None
    nhs_number: str | None = None

    def child(self) -> Child:
        """Return the canonical child."""
        return Child(given_name=self.given_name, family_name=self.family_name,
                     date_of_birth=self.date_of_birth, council_child_id=self.council_child_id,
                     nhs_number=self.nhs_number)

    def placement(self) -> Placement:
        """Return the canonical placement."""
        if self.looked_after:
            return Placement(type=PlacementType.FOSTER, legal_status=LegalStatus.S20,
                             responsible_authority=self.responsible)
        return Placement(type=PlacementType.HOME)

    def decision(self) -> RoutingDecision:
        """Return the routing decision's resolved authorities (recipients not needed here)."""
        return RoutingDecision(home=self.home, responsible=self.responsible, host=self.host)


def open_episode(session: Session, case: Case, *, opened_at: datetime,
                 now: datetime) -> AppliedEvent:
    """Write a new episode and its missing-report event; return what the listener sees."""
    notification = Notification(
        event=EventType.MISSING_REPORTED, force=case.force, police_reference=case.reference,
        occurred_at=opened_at, reported_at=opened_at, child=case.child(),
        placement=case.placement(), risk=RiskAssessment(grade=case.grade, assessed_at=opened_at))
    episode = Episode.open(notification)
    row = EpisodeRow(id=new_id(), force=case.force, police_reference=case.reference,
                     state=episode.state.value, risk_grade=case.grade.value,
                     child_name=f"{case.given_name} {case.family_name}",
                     child_dob=case.date_of_birth.isoformat(),
                     council_child_id=case.council_child_id,
                     responsible_authority=case.responsible, host_authority=case.host,
                     opened_at=opened_at, updated_at=now, last_revision=1,
                     data=episode_to_json(episode), revisions={"MISSING_REPORTED": 1})
    session.add(row)
    return _event(session, row, episode, notification, case.decision(), now)


def apply(session: Session, case: Case, episode_id: str, event: EventType, *,
          occurred_at: datetime, now: datetime, grade: RiskGrade | None = None,
          extra: dict[str, str] | None = None) -> AppliedEvent:
    """Apply a later police event to a synthetic episode; return what the listener sees."""
    row = session.get(EpisodeRow, episode_id)
    if row is None:
        raise KeyError(episode_id)
    episode = episode_from_json(row.data)
    revision = (row.revisions or {}).get(event.value, 0) + 1
    notification = Notification(
        event=event, force=case.force, police_reference=case.reference,
        occurred_at=occurred_at, revision=revision,
        risk=RiskAssessment(grade=grade, assessed_at=occurred_at) if grade else None,
        found=FoundDetails(found_at=occurred_at) if event is EventType.FOUND else None,
        extra=dict(extra or {}))
    episode.apply(notification)
    row.data = episode_to_json(episode)
    row.state = episode.state.value
    row.risk_grade = episode.current_risk.grade.value if episode.current_risk else None
    row.found_at = episode.found.found_at if episode.found else None
    row.closed_at = episode.closed_at
    row.revisions = {**(row.revisions or {}), event.value: revision}
    row.updated_at = now
    return _event(session, row, episode, notification, case.decision(), now)


def _event(session: Session, row: EpisodeRow, episode: Episode, notification: Notification,
           decision: RoutingDecision, now: datetime) -> AppliedEvent:
    event = EventRow(id=new_id(), episode_id=row.id, event_type=notification.event.value,
                     revision=notification.revision, occurred_at=notification.occurred_at,
                     recorded_at=now, applied=True,
                     notification=notification_to_json(notification))
    session.add(event)
    return AppliedEvent(episode_id=row.id, event_id=event.id, notification=notification,
                        episode=episode, decision=decision, delivery_ids=(), now=now)


def sent_delivery(session: Session, directory: Directory, episode_id: str, event_id: str,
                  authority_id: str, team: str, now: datetime,
                  role: RecipientRole = RecipientRole.ACTION) -> DeliveryRow:
    """Write a delivery of the event to a team as already SENT (the outbox's end state)."""
    authority = directory.authority(authority_id)
    channel = authority.channel(team) if authority is not None else None
    if channel is None:
        raise LookupError(f"{authority_id} has no {team} channel")
    row = DeliveryRow(id=new_id(), event_id=event_id, episode_id=episode_id,
                      authority=authority_id, team=team, role=role.value,
                      reason="synthetic", profile="responsible_action",
                      channel=channel_to_json(channel), status=DeliveryStatus.SENT.value,
                      attempts=1, created_at=now, next_attempt_at=None, claimed_at=now,
                      sent_at=now)
    session.add(row)
    return row


def regraded(case: Case, grade: RiskGrade) -> Case:
    """Return the case with a new risk grade."""
    return replace(case, grade=grade)
