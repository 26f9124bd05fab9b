"""The canonical JSON form: round trips exactly and rejects bad input with field-level reasons."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from gateway.domain.enums import (
    EpisodeState,
    EthnicityCode,
    EventType,
    Gender,
    LegalStatus,
    PlacementType,
    RiskFactor,
    RiskGrade,
)
from gateway.domain.episode import Episode
from gateway.domain.errors import InvalidMessage
from gateway.domain.model import (
    Address,
    Child,
    FoundDetails,
    Notification,
    Person,
    Placement,
    RiskAssessment,
)
from gateway.domain.schemas import (
    episode_from_json,
    episode_to_json,
    notification_from_json,
    notification_to_json,
)

BST = timezone(timedelta(hours=1))


def full_notification() -> Notification:
    """Return a notification with every field set, including unicode and a BST offset."""
    t = datetime(2026, 7, 4, 23, 30, tzinfo=BST)
    return Notification(
        event=EventType.MISSING_REPORTED, force="kent-police", police_reference="KP/26/0042",
        occurred_at=t, revision=3, incident_number="INC-1",
        child=Child("Zoë", "Ní Bhriain", date(2011, 2, 28), Gender.FEMALE, EthnicityCode.W3,
                    "9434765919", "KCC-1", True, "slim", "red coat", "IMG-1",
                    Address(("1 High St", "Ashford"), "TN23 1AA")),
        placement=Placement(PlacementType.RESIDENTIAL, LegalStatus.S31,
                            Address(("Home",), "CV34 4RL"), "Kent County Council", True),
        risk=RiskAssessment(RiskGrade.HIGH, t, (RiskFactor.CSE, RiskFactor.GANGS), "Insp 4",
                            "older males"),
        reported_at=t, last_seen_at=t - timedelta(hours=3), last_seen_place="station",
        last_seen_with="friends", missing_from=Address(("Home",), "CV34 4RL"),
        circumstances="did not return", associates=(Person("Łukasz Nowak", "friend",
                                                           "+447700900123"),),
        places_frequented=("park", "arcade"), reporter=Person("Carer", "carer", "+441632960417"),
        previous_episodes=4, parents_not_told=True,
        found=FoundDetails(t + timedelta(days=1), "Leamington", "PC 1", "placement", True),
        summary="summary", extra={"k": "v"},
    )


def test_notification_round_trips_through_json_exactly() -> None:
    original = full_notification()
    data = notification_to_json(original)
    assert data["occurred_at"] == "2026-07-04T23:30:00+01:00"
    assert data["child"]["given_name"] == "Zoë"
    assert notification_from_json(data) == original


def test_minimal_notification_round_trips() -> None:
    original = Notification(EventType.CANCELLED, "kent-police", "X", datetime(2026, 1, 1,
                                                                              tzinfo=UTC))
    assert notification_from_json(notification_to_json(original)) == original


def test_episode_round_trips_through_json() -> None:
    n = full_notification()
    episode = Episode.open(n)
    episode.risk_history.append(RiskAssessment(RiskGrade.MEDIUM, n.occurred_at))
    loaded = episode_from_json(episode_to_json(episode))
    assert loaded == episode
    assert loaded.state is EpisodeState.MISSING


def test_every_bad_field_is_named_with_its_value_and_rule() -> None:
    data = notification_to_json(full_notification())
    data["child"]["date_of_birth"] = "2031-02-30"
    data["child"]["given_name"] = "x" * 36
    data["occurred_at"] = "2026-07-04T23:30:00"  # no offset
    data["reporter"]["phone"] = "01632 960417"
    data["surprise"] = 1
    with pytest.raises(InvalidMessage) as caught:
        notification_from_json(data)
    reasons = {e.field: e for e in caught.value.errors}
    assert reasons["child.date_of_birth"].value == "2031-02-30"
    assert "date" in reasons["child.date_of_birth"].message.lower()
    assert "35" in reasons["child.given_name"].message
    assert "aware" in reasons["occurred_at"].message
    assert reasons["reporter.phone"].value == "01632 960417"
    assert "Unknown field" in reasons["surprise"].message
    assert str(reasons["child.date_of_birth"]).startswith("child.date_of_birth: '2031-02-30'")
