"""Repeat missing: rolling windows per child against each authority's thresholds."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gateway.domain.model import Child
from gateway.tracking.keys import child_key
from tests.unit.tracking.conftest import AUTHORITIES, World, utc

START = utc(2026, 1, 5, 10, 0)
# Items each authority raises for 9 episodes 4 days apart, with the episode that raised
# each (000 §9.6-9.8; 001 L338; 002 L577; 003 L579-585; 004 L532, L625).
EXPECTED = {
    "cheshire-east": [(3, "trigger_1_meeting"), (9, "trigger_2_meeting")],
    "cheshire-west-and-chester": [(3, "trigger_1_meeting"), (9, "trigger_2_meeting")],
    "halton": [(3, "trigger_1_meeting"), (9, "trigger_2_meeting")],
    "warrington": [(3, "trigger_1_meeting"), (9, "trigger_2_meeting")],
    "kent": [(3, "professionals_meeting")],
    "medway": [(3, "professionals_meeting")],
    "north-east-lincolnshire": [(2, "support_discussion")],
    "warwickshire": [(3, "stage_1_mim"), (6, "stage_2_mim"), (9, "escalation_mim")],
    "derby": [(2, "multi_agency_strategy_meeting"), (3, "persistent_missing_review")],
    "derbyshire": [(2, "multi_agency_strategy_meeting"), (3, "persistent_missing_review")],
}


MEETINGS = {kind for items in EXPECTED.values() for _, kind in items}


@pytest.mark.parametrize("authority", AUTHORITIES)
def test_thresholds_per_authority(world: World, authority: str) -> None:
    raised: list[tuple[int, str]] = []
    seen = 0
    for n in range(1, 10):
        case = world.case(authority, child_id="C-42")
        world.missing(case, START + timedelta(days=4 * (n - 1)))
        items = [i for i in world.items() if i.kind in MEETINGS]
        raised += [(n, i.kind) for i in items[seen:]]
        seen = len(items)
    assert raised == EXPECTED[authority]
    assert {i.authority for i in world.items() if i.kind in MEETINGS} == {authority}
    chases = world.deliveries("chase (repeat_missing)")
    assert len(chases) == len(EXPECTED[authority])
    assert {(c.authority, c.team) for c in chases} == {(authority, "missing_coordinator")}


@pytest.mark.parametrize(("authority", "spacing_days", "raised"), [
    ("cheshire-east", 20, False),  # 3 in 40 days: outside "3 in 30"
    ("cheshire-east", 14, True),
    ("kent", 40, True),  # 3 in 80 days: inside "3 in 90"
    ("kent", 46, False),
])
def test_the_window_rolls(world: World, authority: str, spacing_days: int,
                          raised: bool) -> None:
    for n in range(3):
        world.missing(world.case(authority, child_id="W-1"),
                      START + timedelta(days=spacing_days * n))
    first = EXPECTED[authority][0][1]
    assert bool(world.items(first)) is raised


def test_meeting_due_in_working_days_across_easter(world: World) -> None:
    # Third episode on Thursday 2 April 2026: Good Friday and Easter Monday do not count.
    for day in (utc(2026, 3, 20, 10), utc(2026, 3, 27, 10), utc(2026, 4, 2, 9)):
        world.missing(world.case("warwickshire", child_id="E-1"), day)
    [item] = world.items("stage_1_mim")
    assert "due by Mon 13 Apr 2026" in item.message
    assert "5 working days" in item.message


def test_host_counts_a_placed_in_child_too(world: World) -> None:
    for n in range(3):
        world.missing(world.case("kent", looked_after=True, host="warwickshire",
                                 child_id="K-9"), START + timedelta(days=3 * n))
    assert [i.authority for i in world.items("professionals_meeting")] == ["kent"]
    assert [i.authority for i in world.items("stage_1_mim")] == ["warwickshire"]


def test_a_cancelled_episode_does_not_count(world: World) -> None:
    from gateway.domain.enums import EventType

    case = world.case("north-east-lincolnshire", child_id="N-1")
    first = world.missing(case, START)
    world.event(case, first, EventType.CANCELLED, START + timedelta(hours=1))
    world.missing(world.case("north-east-lincolnshire", child_id="N-1"),
                  START + timedelta(days=2))
    assert world.items("support_discussion") == []


def test_child_identity_council_id_then_nhs_number_then_name_and_birth_date() -> None:
    born = date(2011, 5, 4)
    with_id = Child("Amy", "Hart", born, council_child_id="kcc-1", nhs_number="943 476 5919")
    assert child_key(with_id, "kent") == "cid:kent:KCC-1"
    assert child_key(with_id, "medway") != child_key(with_id, "kent")
    nhs_only = Child("Amy", "Hart", born, nhs_number="943 476 5919")
    assert child_key(nhs_only) == "nhs:9434765919"
    assert child_key(Child("Amy-Jo", "O'Hart", born)) == child_key(Child("amy jo", "o hart",
                                                                         born))
    assert child_key(Child("Amy", "Hart", born)) != child_key(Child("Amy", "Hart",
                                                                    date(2011, 5, 5)))
    assert child_key(None) is None

