"""Every clock of DOMAIN.md §5, for every demo authority's variant (tables, not config reads).

The expected figures are written out from the seeds, so a wrong configuration fails here
too. Dates cover a weekend, Good Friday / Easter Monday 2026 and both BST changes
(2026-03-29 01:00 UTC forward, 2026-10-25 01:00 UTC back).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.domain.enums import EventType, RiskGrade
from gateway.tracking import episodes, rhi
from gateway.tracking.episodes import end_away, start_away
from routing.calendars import to_local
from tests.unit.tracking.conftest import AUTHORITIES, World, utc

# (strategy hours high, strategy hours other) per authority: 000 §5.3.7, 001 L204, 003 L565,
# defaults (48/72) for NE Lincolnshire and Derby/Derbyshire.
STRATEGY = {
    "cheshire-east": (48, 48), "cheshire-west-and-chester": (48, 48), "halton": (48, 48),
    "warrington": (48, 48), "kent": (48, 48), "medway": (48, 48),
    "north-east-lincolnshire": (48, 72), "warwickshire": (48, 72), "derby": (48, 72),
    "derbyshire": (48, 72),
}
# (RHI clock start, host does RHIs for children placed in, non-LAC low risk gets one).
RHI = {
    "cheshire-east": ("return", True, True), "cheshire-west-and-chester": ("return", True, True),
    "halton": ("return", True, True), "warrington": ("return", True, True),
    "kent": ("found_notice", False, True), "medway": ("found_notice", False, True),
    "north-east-lincolnshire": ("return", False, True),
    "warwickshire": ("found_notice", True, True),
    "derby": ("return", False, False), "derbyshire": ("return", False, False),
}
NAR_CAP = {"derby": 24, "derbyshire": 24}

# Friday 27 March 2026, 12:00 GMT: 72 h later crosses the change to BST (Sunday 29th).
BEFORE_BST = utc(2026, 3, 27, 12, 0)


@pytest.mark.parametrize("authority", AUTHORITIES)
@pytest.mark.parametrize("grade", [RiskGrade.HIGH, RiskGrade.MEDIUM])
def test_strategy_discussion_due_per_authority_and_grade(world: World, authority: str,
                                                         grade: RiskGrade) -> None:
    case = world.case(authority, grade=grade)
    episode = world.missing(case, BEFORE_BST)
    high, other = STRATEGY[authority]
    hours = high if grade is RiskGrade.HIGH else other
    due = world.due(episode, episodes.STRATEGY)
    assert due == BEFORE_BST + timedelta(hours=hours)  # elapsed hours, across BST
    if hours == 72:
        assert to_local(due).strftime("%a %H:%M %Z") == "Mon 13:00 BST"
    report = world.tick(due - timedelta(seconds=1))
    assert report.by_kind[episodes.STRATEGY] == 0
    report = world.tick(due)
    assert report.by_kind[episodes.STRATEGY] == 1
    [item] = world.items("strategy_discussion_due")
    assert item.authority == authority
    assert world.deliveries("chase (strategy_discussion)")[0].authority == authority


def test_strategy_discussion_is_not_due_once_found(world: World) -> None:
    case = world.case("warwickshire")
    episode = world.missing(case, BEFORE_BST)
    world.event(case, episode, EventType.FOUND, BEFORE_BST + timedelta(hours=30))
    report = world.tick(BEFORE_BST + timedelta(days=4))
    assert report.by_kind[episodes.STRATEGY] == 0
    assert world.items("strategy_discussion_due") == []


def test_regrade_to_high_brings_the_strategy_discussion_forward(world: World) -> None:
    case = world.case("warwickshire", grade=RiskGrade.MEDIUM)
    episode = world.missing(case, BEFORE_BST)
    assert world.due(episode, episodes.STRATEGY) == BEFORE_BST + timedelta(hours=72)
    world.event(case, episode, EventType.RISK_REGRADED, BEFORE_BST + timedelta(hours=5),
                grade=RiskGrade.HIGH)
    assert world.due(episode, episodes.STRATEGY) == BEFORE_BST + timedelta(hours=48)


@pytest.mark.parametrize("authority", AUTHORITIES)
@pytest.mark.parametrize(("late_by_hours", "alerted"), [(23, False), (25, True)])
def test_police_notice_within_24_hours(world: World, authority: str, late_by_hours: int,
                                       alerted: bool) -> None:
    case = world.case(authority)
    world.missing(case, BEFORE_BST, received_at=BEFORE_BST + timedelta(hours=late_by_hours))
    items = world.items("police_notice_late")
    assert bool(items) is alerted
    chases = world.deliveries("chase (police_notice_late)")
    assert bool(chases) is alerted
    if alerted:
        assert chases[0].team == "police_feedback"
        assert chases[0].authority == case.force
        assert "within 24 h" in items[0].message


@pytest.mark.parametrize("authority", AUTHORITIES)
def test_police_updates_at_48_hours_then_every_5_days_across_bst_end(world: World,
                                                                       authority: str) -> None:
    # Tuesday 20 October 2026 12:00 BST; the clocks go back on Sunday 25th.
    opened = utc(2026, 10, 20, 11, 0)
    case = world.case(authority)
    episode = world.missing(case, opened)
    first = world.due(episode, episodes.POLICE_UPDATE)
    assert first == opened + timedelta(hours=48)
    # An update inside the window satisfies it: no chase.
    world.event(case, episode, EventType.UPDATE, opened + timedelta(hours=30))
    report = world.tick(first)
    assert report.outcomes["satisfied"] == 1
    second = world.due(episode, episodes.POLICE_UPDATE)
    # Five calendar days at the same local time: 12:00 BST → 12:00 GMT, 121 elapsed hours.
    assert to_local(second).strftime("%d %H:%M %Z") == "27 12:00 GMT"
    assert second - first == timedelta(days=5, hours=1)
    report = world.tick(second)
    assert report.by_kind[episodes.POLICE_UPDATE] == 1
    chase = world.deliveries("chase (police_update)")
    assert [d.team for d in chase] == ["police_feedback"]
    assert "in the last 5 days" in chase[0].reason
    third = world.due(episode, episodes.POLICE_UPDATE)
    assert third == second + timedelta(days=5)
    world.event(case, episode, EventType.FOUND, second + timedelta(days=1))
    assert world.clocks(episode, episodes.POLICE_UPDATE, "PENDING") == []


@pytest.mark.parametrize("authority", AUTHORITIES)
def test_no_apparent_risk_cap(world: World, authority: str) -> None:
    case = world.case(authority, grade=RiskGrade.NO_APPARENT_RISK)
    episode = world.missing(case, BEFORE_BST)
    cap = NAR_CAP.get(authority)
    pending = world.clocks(episode, episodes.NAR_CAP, "PENDING")
    if cap is None:
        assert pending == []
        return
    assert [c.due_at for c in pending] == [BEFORE_BST + timedelta(hours=cap)]
    world.tick(BEFORE_BST + timedelta(hours=cap))
    [item] = world.items("nar_cap_exceeded")
    assert "must now be regraded" in item.message
    assert world.deliveries("chase (nar_cap)")[0].team == "police_feedback"


def test_regrading_away_from_no_apparent_risk_stops_the_cap(world: World) -> None:
    case = world.case("derby", grade=RiskGrade.NO_APPARENT_RISK)
    episode = world.missing(case, BEFORE_BST)
    world.event(case, episode, EventType.RISK_REGRADED, BEFORE_BST + timedelta(hours=3),
                grade=RiskGrade.MEDIUM)
    assert world.clocks(episode, episodes.NAR_CAP, "PENDING") == []
    world.tick(BEFORE_BST + timedelta(hours=30))
    assert world.items("nar_cap_exceeded") == []


def test_away_from_placement_becomes_missing_after_6_hours(world: World) -> None:
    first_aware = utc(2026, 3, 28, 22, 30)  # six hours later is after the change to BST
    with world.services.db.unit_of_work() as session:
        start_away(session, subject_id="away-1", authority="derby", first_aware=first_aware,
                   now=first_aware, label="Child A")
        start_away(session, subject_id="away-2", authority="derby", first_aware=first_aware,
                   now=first_aware, label="Child B")
    with world.services.db.unit_of_work() as session:
        assert end_away(session, "away-2") == 1
    assert world.tick(first_aware + timedelta(hours=5, minutes=59)).fired == 0
    report = world.tick(first_aware + timedelta(hours=6))
    assert report.by_kind[episodes.AWAY] == 1
    [item] = world.items("away_from_placement_limit")
    assert "Child A" in item.message
    assert item.authority == "derby"


@pytest.mark.parametrize("authority", AUTHORITIES)
def test_rhi_due_from_return_or_found_notice(world: World, authority: str) -> None:
    start, _, _ = RHI[authority]
    case = world.case(authority, looked_after=True)
    episode = world.missing(case, BEFORE_BST - timedelta(days=1))
    found_at = BEFORE_BST
    notice = found_at + timedelta(hours=10)
    world.event(case, episode, EventType.FOUND, found_at, received_at=notice)
    row = world.rhi(episode)
    assert row.clock_start == start
    assert row.required
    assert row.conducting_authority == authority
    expected = (found_at if start == "return" else notice) + timedelta(hours=72)
    assert row.due_at == expected
    assert world.due(episode, rhi.BREACH) == expected


@pytest.mark.parametrize("authority", AUTHORITIES)
@pytest.mark.parametrize("looked_after", [True, False])
def test_rhi_required_for_children_in_care_always_otherwise_per_rule(
        world: World, authority: str, looked_after: bool) -> None:
    _, _, low_risk_gets_one = RHI[authority]
    case = world.case(authority, looked_after=looked_after, grade=RiskGrade.LOW)
    episode = world.missing(case, BEFORE_BST)
    world.event(case, episode, EventType.FOUND, BEFORE_BST + timedelta(hours=3))
    row = world.rhi(episode)
    assert row.required is (looked_after or low_risk_gets_one)
    assert row.status == ("DUE" if row.required else "NOT_REQUIRED")
    assert bool(world.clocks(episode, kind=rhi.BREACH)) is row.required


@pytest.mark.parametrize("host", AUTHORITIES)
def test_rhi_for_a_child_placed_out_of_area_is_done_by_the_host_where_it_does_them(
        world: World, host: str) -> None:
    responsible = "derby" if host not in ("derby", "derbyshire") else "kent"
    _, host_does_it, _ = RHI[host]
    case = world.case(responsible, looked_after=True, host=host)
    episode = world.missing(case, BEFORE_BST)
    world.event(case, episode, EventType.FOUND, BEFORE_BST + timedelta(hours=3))
    row = world.rhi(episode)
    assert row.conducting_authority == (host if host_does_it else responsible)
    copy_chase = world.clocks(episode, rhi.COPY_REMINDER)
    assert bool(copy_chase) is not host_does_it


def test_rhi_reminder_on_a_saturday_is_brought_forward_to_friday_afternoon(
        world: World) -> None:
    case = world.case("north-east-lincolnshire", looked_after=True)
    found = utc(2026, 3, 5, 14, 0)  # Thursday; +48 h is Saturday 14:00
    episode = world.missing(case, found - timedelta(hours=10))
    world.event(case, episode, EventType.FOUND, found)
    reminder = world.due(episode, rhi.REMINDER)
    assert to_local(reminder).strftime("%a %d %H:%M") == "Fri 06 16:00"
    report = world.tick(reminder)
    assert report.by_kind[rhi.REMINDER] == 1
    [chase] = world.deliveries("chase (rhi_reminder)")
    assert (chase.authority, chase.team) == ("north-east-lincolnshire", "rhi_service")
    assert "due by Sun 08 Mar 14:00" in chase.reason


def test_rhi_reminder_in_office_hours_stays_at_48_hours(world: World) -> None:
    case = world.case("derby", looked_after=True)
    found = utc(2026, 3, 9, 10, 0)  # Monday
    episode = world.missing(case, found - timedelta(hours=10))
    world.event(case, episode, EventType.FOUND, found)
    assert world.due(episode, rhi.REMINDER) == found + timedelta(hours=48)


def test_rhi_breach_alerts_the_named_manager_and_the_coordinator(world: World) -> None:
    case = world.case("kent", looked_after=True)
    found = utc(2026, 3, 9, 10, 0)
    episode = world.missing(case, found - timedelta(hours=10))
    world.event(case, episode, EventType.FOUND, found)
    row = world.rhi(episode)
    report = world.tick(row.due_at)
    assert report.outcomes["breach"] == 1
    assert world.rhi(episode).breached
    [item] = world.items("rhi_overdue")
    assert item.authority == "kent"
    [chase] = world.deliveries("chase (rhi_breach)")
    assert (chase.authority, chase.team) == ("kent", "missing_coordinator")


def test_other_councils_rhi_copy_two_weeks_reminder_escalation_follow_up_over_easter(
        world: World) -> None:
    # Warwickshire's child placed in Kent: Kent does not do placed-in RHIs (001 L324),
    # so Kent chases Warwickshire for the copy 14 days after the due time (001 L392).
    case = world.case("warwickshire", looked_after=True, host="kent")
    found = utc(2026, 3, 17, 10, 0)  # Tuesday; notice received at once (found_notice)
    episode = world.missing(case, found - timedelta(hours=5))
    world.event(case, episode, EventType.FOUND, found)
    row = world.rhi(episode)
    assert row.conducting_authority == "warwickshire"
    assert row.due_at == utc(2026, 3, 20, 10, 0)
    # Due + 14 days is Good Friday 3 April; Easter Monday too is a bank holiday.
    reminder = world.due(episode, rhi.COPY_REMINDER)
    assert to_local(reminder).strftime("%a %d %b %H:%M %Z") == "Tue 07 Apr 09:00 BST"
    assert world.due(episode, rhi.COPY_ESCALATION) == reminder
    follow_up = world.due(episode, rhi.COPY_FOLLOW_UP)
    assert to_local(follow_up).strftime("%a %d %b %H:%M") == "Tue 21 Apr 09:00"
    world.tick(reminder)
    [ask] = world.deliveries("chase (rhi_copy_reminder)")
    assert (ask.authority, ask.team) == ("warwickshire", "rhi_service")
    [escalation] = world.items("rhi_copy_escalation")
    assert escalation.authority == "kent"
    world.tick(follow_up)
    [follow] = world.deliveries("chase (rhi_copy_follow_up)")
    assert (follow.authority, follow.team) == ("warwickshire", "missing_coordinator")


def test_rhi_outcome_stops_the_other_councils_chase(world: World) -> None:
    case = world.case("warwickshire", looked_after=True, host="kent")
    found = utc(2026, 3, 17, 10, 0)
    episode = world.missing(case, found - timedelta(hours=5))
    world.event(case, episode, EventType.FOUND, found)
    row = world.rhi(episode)
    with world.services.db.unit_of_work() as session:
        world.tracker.record_outcome(session, row.id, "completed", at=found + timedelta(
            hours=50), now=found + timedelta(hours=50), by="RHI worker")
    world.tick(found + timedelta(days=60))
    assert world.deliveries("chase (rhi") == []
    assert world.items("rhi_copy_escalation") == []


MILESTONES = [
    ("28 days", utc(2026, 4, 7, 9, 0)),  # 10:00 GMT → 10:00 BST
    ("6 weeks", utc(2026, 4, 21, 9, 0)),
    ("2 months", utc(2026, 5, 10, 9, 0)),
    ("3 months", utc(2026, 6, 10, 9, 0)),
    ("6 months", utc(2026, 9, 10, 9, 0)),
]


@pytest.mark.parametrize("authority", ["kent", "warwickshire", "derby"])
def test_long_term_missing_milestones(world: World, authority: str) -> None:
    opened = utc(2026, 3, 10, 10, 0)
    case = world.case(authority)
    episode = world.missing(case, opened)
    for label, due in MILESTONES:
        assert world.due(episode, episodes.LONG_TERM) == due, label
        report = world.tick(due)
        assert report.by_kind[episodes.LONG_TERM] == 1
    labels = [item.message for item in world.items("long_term_missing")]
    assert len(labels) == len(MILESTONES)
    for (label, _), message in zip(MILESTONES, labels, strict=True):
        assert f"missing {label}" in message
    assert world.clocks(episode, episodes.LONG_TERM, "PENDING") == []


def test_cancelled_episode_stops_every_clock(world: World) -> None:
    case = world.case("derby", looked_after=True, grade=RiskGrade.NO_APPARENT_RISK)
    episode = world.missing(case, BEFORE_BST)
    world.event(case, episode, EventType.CANCELLED, BEFORE_BST + timedelta(hours=1))
    assert world.clocks(episode, state="PENDING") == []
    assert world.tick(BEFORE_BST + timedelta(days=200)).fired == 0
