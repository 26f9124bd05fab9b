"""The RHI life cycle: attempts, declines, consecutive declines, late completion, Annex A."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from gateway.domain.enums import EventType
from gateway.tracking import rhi
from gateway.tracking.rhi import LateReasonRequired
from tests.unit.tracking.conftest import World, utc

FOUND = utc(2026, 3, 9, 10, 0)  # Monday


def _returned(world: World, authority: str = "derby", child_id: str = "D-1",
              found: datetime = FOUND) -> str:
    return _episode_returned(world, authority, child_id, found)[1]


def _episode_returned(world: World, authority: str = "derby", child_id: str = "D-1",
                      found: datetime = FOUND) -> tuple[str, str]:
    case = world.case(authority, looked_after=True, child_id=child_id)
    episode = world.missing(case, found - timedelta(hours=12))
    world.event(case, episode, EventType.FOUND, found)
    return episode, world.rhi(episode).id


def test_more_than_three_unsuccessful_attempts_count_as_declined(world: World) -> None:
    episode, rhi_id = _episode_returned(world)
    methods = ["phone", "phone", "letter", "visit"]
    with world.services.db.unit_of_work() as session:
        for n, method in enumerate(methods[:3]):
            row = world.tracker.record_attempt(session, rhi_id, at=FOUND + timedelta(hours=n),
                                               method=method, successful=False,
                                               now=FOUND + timedelta(hours=n))
        assert row.status == "DUE"
        row = world.tracker.record_attempt(session, rhi_id, at=FOUND + timedelta(hours=5),
                                           method=methods[3], successful=False,
                                           now=FOUND + timedelta(hours=5))
        assert row.status == "DECLINED"
        assert row.accepted == "N"
    assert [c.kind for c in world.clocks(episode, state="PENDING")
            if c.kind.startswith("rhi")] == []
    assert world.items("rhi_decline_letter") == []  # a letter was among the attempts
    report = world.tick(FOUND + timedelta(days=30))
    assert report.outcomes["breach"] == 0


def test_declined_without_a_letter_asks_for_the_decline_letter(world: World) -> None:
    rhi_id = _returned(world)
    with world.services.db.unit_of_work() as session:
        for n in range(4):
            world.tracker.record_attempt(session, rhi_id, at=FOUND + timedelta(hours=n),
                                         method="phone", successful=False, now=FOUND)
    [item] = world.items("rhi_decline_letter")
    assert "decline letter" in item.message


def test_a_successful_contact_offers_the_interview(world: World) -> None:
    rhi_id = _returned(world)
    with world.services.db.unit_of_work() as session:
        row = world.tracker.record_attempt(session, rhi_id, at=FOUND + timedelta(hours=2),
                                           method="visit", successful=True, now=FOUND)
        assert row.status == "OFFERED"
        assert row.offered_at == FOUND + timedelta(hours=2)


def test_three_consecutive_declines_call_a_multi_agency_meeting(world: World) -> None:
    outcomes = ["declined", "completed", "declined", "declined", "declined"]
    for n, outcome in enumerate(outcomes):
        found = FOUND + timedelta(days=10 * n)
        rhi_id = _returned(world, child_id="D-7", found=found)
        with world.services.db.unit_of_work() as session:
            world.tracker.record_outcome(session, rhi_id, outcome, at=found + timedelta(
                hours=20), now=found + timedelta(hours=20))
        expected = 1 if n == 4 else 0
        assert len(world.items("multi_agency_meeting")) == expected, n
    [item] = world.items("multi_agency_meeting")
    assert item.authority == "derby"
    assert "3 times in a row" in item.message


def test_declines_of_another_child_do_not_count(world: World) -> None:
    for n, child in enumerate(["A", "B", "A"]):
        found = FOUND + timedelta(days=10 * n)
        rhi_id = _returned(world, child_id=child, found=found)
        with world.services.db.unit_of_work() as session:
            world.tracker.record_outcome(session, rhi_id, "declined", at=found, now=found)
    assert world.items("multi_agency_meeting") == []


def test_late_completion_needs_its_reason(world: World) -> None:
    rhi_id = _returned(world)
    late = FOUND + timedelta(hours=80)
    with world.services.db.unit_of_work() as session, pytest.raises(LateReasonRequired):
        world.tracker.record_outcome(session, rhi_id, "completed", at=late, now=late)
    with world.services.db.unit_of_work() as session:
        row = world.tracker.record_outcome(session, rhi_id, "completed", at=late, now=late,
                                           late_reason="child in hospital until day 4")
        assert row.status == "COMPLETED"
        assert row.late_reason == "child in hospital until day 4"


def test_completion_in_time_needs_no_reason_and_stops_the_chase(world: World) -> None:
    rhi_id = _returned(world)
    with world.services.db.unit_of_work() as session:
        world.tracker.record_outcome(session, rhi_id, "accepted", at=FOUND + timedelta(hours=5),
                                     now=FOUND + timedelta(hours=5))
        row = world.tracker.record_outcome(session, rhi_id, "completed",
                                           at=FOUND + timedelta(hours=30),
                                           now=FOUND + timedelta(hours=30))
        assert (row.status, row.accepted, row.late_reason) == ("COMPLETED", "Y", None)
    report = world.tick(FOUND + timedelta(days=5))
    assert report.by_kind[rhi.REMINDER] == 0
    assert report.by_kind[rhi.BREACH] == 0


def test_nothing_more_can_be_recorded_on_an_ended_rhi(world: World) -> None:
    rhi_id = _returned(world)
    with world.services.db.unit_of_work() as session:
        world.tracker.record_outcome(session, rhi_id, "not_possible", at=FOUND, now=FOUND)
    with world.services.db.unit_of_work() as session, pytest.raises(ValueError, match="not"):
        world.tracker.record_outcome(session, rhi_id, "completed", at=FOUND, now=FOUND)
    with world.services.db.unit_of_work() as session, pytest.raises(ValueError, match="not"):
        world.tracker.record_attempt(session, rhi_id, at=FOUND, method="phone",
                                     successful=False, now=FOUND)


def test_unknown_outcome_and_method_are_refused(world: World) -> None:
    rhi_id = _returned(world)
    with world.services.db.unit_of_work() as session, pytest.raises(ValueError, match="outcome"):
        world.tracker.record_outcome(session, rhi_id, "maybe", at=FOUND, now=FOUND)
    with world.services.db.unit_of_work() as session, pytest.raises(ValueError, match="method"):
        world.tracker.record_attempt(session, rhi_id, at=FOUND, method="carrier pigeon",
                                     successful=False, now=FOUND)


def test_rhi_outcome_event_from_a_council_is_recorded(world: World) -> None:
    case = world.case("derby", looked_after=True)
    episode = world.missing(case, FOUND - timedelta(hours=12))
    world.event(case, episode, EventType.FOUND, FOUND)
    world.event(case, episode, EventType.RHI_OUTCOME, FOUND + timedelta(hours=90),
                extra={"rhi_outcome": "completed", "rhi_conducted_by": "derby"})
    # Late and no reason given: not recorded, and a coordinator is told why.
    assert world.rhi(episode).status == "DUE"
    [item] = world.items("rhi_outcome_incomplete")
    assert "exceptional reason" in item.message
    world.event(case, episode, EventType.RHI_OUTCOME, FOUND + timedelta(hours=91),
                extra={"rhi_outcome": "completed", "rhi_late_reason": "family away"})
    assert world.rhi(episode).status == "COMPLETED"
