"""The missing episode and its state machine: missing → found → closed, or cancelled."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from gateway.domain.enums import EpisodeState, EventType
from gateway.domain.errors import IllegalTransition
from gateway.domain.model import Child, FoundDetails, Notification, Placement, RiskAssessment

# Which events each state accepts, and the state each leads to. Events not listed for a
# state are illegal there; `None` means the event is recorded but the state stays.
_TRANSITIONS: dict[EpisodeState, dict[EventType, EpisodeState | None]] = {
    EpisodeState.MISSING: {
        EventType.UPDATE: None,
        EventType.RISK_REGRADED: None,
        EventType.FOUND: EpisodeState.FOUND,
        EventType.CANCELLED: EpisodeState.CANCELLED,
    },
    EpisodeState.FOUND: {
        EventType.UPDATE: None,
        EventType.CLOSED: EpisodeState.CLOSED,
        EventType.CANCELLED: EpisodeState.CANCELLED,
        EventType.RHI_OUTCOME: None,
    },
    EpisodeState.CLOSED: {EventType.RHI_OUTCOME: None},
    EpisodeState.CANCELLED: {},
}


@dataclass
class Episode:
    """One period a child is missing, as the gateway knows it from police notifications."""

    force: str
    police_reference: str
    state: EpisodeState
    opened_at: datetime
    child: Child | None = None
    placement: Placement | None = None
    risk_history: list[RiskAssessment] = field(default_factory=list)
    found: FoundDetails | None = None
    closed_at: datetime | None = None
    last_revision: int = 0

    @classmethod
    def open(cls, notification: Notification) -> Episode:
        """Start an episode from a missing report; any other event cannot open one."""
        if notification.event is not EventType.MISSING_REPORTED:
            raise IllegalTransition("not yet open", notification.event.value)
        return cls(
            force=notification.force,
            police_reference=notification.police_reference,
            state=EpisodeState.MISSING,
            opened_at=notification.reported_at or notification.occurred_at,
            child=notification.child,
            placement=notification.placement,
            risk_history=[notification.risk] if notification.risk else [],
            last_revision=notification.revision,
        )

    @property
    def current_risk(self) -> RiskAssessment | None:
        """Return the latest risk grading, if any."""
        return self.risk_history[-1] if self.risk_history else None

    def can_apply(self, event: EventType) -> bool:
        """Say whether `event` is legal in the current state."""
        return event in _TRANSITIONS[self.state]

    def apply(self, notification: Notification) -> None:
        """Apply a later notification, changing state; raise IllegalTransition if not allowed."""
        if notification.event is EventType.MISSING_REPORTED:
            self._apply_amended_report(notification)
            return
        if not self.can_apply(notification.event):
            raise IllegalTransition(self.state.value, notification.event.value)
        next_state = _TRANSITIONS[self.state][notification.event]
        if notification.risk is not None:
            self.risk_history.append(notification.risk)
        if notification.child is not None:
            self.child = notification.child
        if notification.placement is not None:
            self.placement = notification.placement
        if notification.event is EventType.FOUND:
            self.found = notification.found
        if next_state in (EpisodeState.CLOSED, EpisodeState.CANCELLED):
            self.closed_at = notification.occurred_at
        if next_state is not None:
            self.state = next_state
        self.last_revision = max(self.last_revision, notification.revision)

    def _apply_amended_report(self, notification: Notification) -> None:
        """Take a re-sent missing report with a higher revision as a correction of the details."""
        if self.state is not EpisodeState.MISSING:
            raise IllegalTransition(self.state.value, notification.event.value)
        if notification.child is not None:
            self.child = notification.child
        if notification.placement is not None:
            self.placement = notification.placement
        if notification.risk is not None and notification.risk != self.current_risk:
            self.risk_history.append(notification.risk)
        self.last_revision = max(self.last_revision, notification.revision)

    def snapshot(self) -> Episode:
        """Return an independent copy, for decisions that must not see later changes."""
        return replace(self, risk_history=list(self.risk_history))
