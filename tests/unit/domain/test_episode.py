"""The episode state machine: missing → found → closed, or cancelled; illegal moves raise."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.domain.enums import EpisodeState, EventType, RiskGrade
from gateway.domain.episode import Episode
from gateway.domain.errors import IllegalTransition
from gateway.domain.model import Child, FoundDetails, Notification, RiskAssessment

T = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def note(event: EventType, revision: int = 1, **kw: object) -> Notification:
    """Build a notification for the test episode."""
    return Notification(event=event, force="kent-police", police_reference="K1",
                        occurred_at=T, revision=revision, **kw)  # type: ignore[arg-type]


def opened() -> Episode:
    """Open an episode from a missing report with a medium risk grade."""
    return Episode.open(note(
        EventType.MISSING_REPORTED, child=Child("Ada", "Lovelace", date(2012, 1, 1)),
        risk=RiskAssessment(RiskGrade.MEDIUM, T)))


def test_missing_report_opens_a_missing_episode_with_its_risk() -> None:
    episode = opened()
    assert episode.state is EpisodeState.MISSING
    assert episode.current_risk is not None
    assert episode.current_risk.grade is RiskGrade.MEDIUM


def test_only_a_missing_report_can_open_an_episode() -> None:
    with pytest.raises(IllegalTransition):
        Episode.open(note(EventType.FOUND))


def test_missing_found_closed_is_the_normal_path() -> None:
    episode = opened()
    found = FoundDetails(found_at=T + timedelta(hours=5), found_place="Canterbury")
    episode.apply(note(EventType.FOUND, found=found))
    assert episode.state is EpisodeState.FOUND
    assert episode.found == found
    episode.apply(replace(note(EventType.CLOSED), occurred_at=T + timedelta(days=1)))
    assert episode.state is EpisodeState.CLOSED
    assert episode.closed_at == T + timedelta(days=1)


def test_regrading_keeps_every_grade_in_history() -> None:
    episode = opened()
    episode.apply(note(EventType.RISK_REGRADED, risk=RiskAssessment(
        RiskGrade.HIGH, T + timedelta(hours=1), authorised_by="Insp 12", rationale="CSE")))
    assert [r.grade for r in episode.risk_history] == [RiskGrade.MEDIUM, RiskGrade.HIGH]
    assert episode.state is EpisodeState.MISSING


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], EventType.CLOSED),  # closed before found
        ([EventType.FOUND], EventType.FOUND),  # found twice
        ([EventType.FOUND, EventType.CLOSED], EventType.UPDATE),
        ([EventType.CANCELLED], EventType.FOUND),
        ([EventType.FOUND, EventType.CLOSED], EventType.CANCELLED),
    ],
)
def test_illegal_transitions_raise_a_typed_error(path: list[EventType],
                                                 illegal: EventType) -> None:
    episode = opened()
    for event in path:
        episode.apply(note(event))
    state_before = episode.state
    with pytest.raises(IllegalTransition) as caught:
        episode.apply(note(illegal))
    assert caught.value.state == state_before.value
    assert caught.value.event == illegal.value
    assert episode.state is state_before


def test_cancelled_from_missing_ends_the_episode() -> None:
    episode = opened()
    episode.apply(note(EventType.CANCELLED))
    assert episode.state is EpisodeState.CANCELLED
    assert not episode.can_apply(EventType.UPDATE)


def test_amended_missing_report_updates_details_while_missing_only() -> None:
    episode = opened()
    episode.apply(note(EventType.MISSING_REPORTED, revision=2,
                       child=Child("Ada", "King", date(2012, 1, 1))))
    assert episode.child is not None
    assert episode.child.family_name == "King"
    assert episode.last_revision == 2
    episode.apply(note(EventType.FOUND))
    with pytest.raises(IllegalTransition):
        episode.apply(note(EventType.MISSING_REPORTED, revision=3))
