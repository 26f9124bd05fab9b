"""Due-time arithmetic across BST changes, weekends and bank holidays."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.tracking.timing import (
    after_days,
    after_hours,
    after_months,
    at_next_opening,
    office_time_before,
)
from routing.calendars import to_local
from routing.directory import Authority
from tests.unit.tracking.conftest import World, utc


def _local(when: object) -> str:
    return to_local(when).strftime("%a %d %b %H:%M %Z")  # type: ignore[arg-type]


@pytest.mark.parametrize(("start", "hours", "expected"), [
    (utc(2026, 3, 28, 12, 0), 24, "Sun 29 Mar 13:00 BST"),  # 24 elapsed hours, clocks forward
    (utc(2026, 10, 24, 12, 0), 24, "Sun 25 Oct 12:00 GMT"),  # clocks back
    (utc(2026, 3, 29, 0, 30), 1, "Sun 29 Mar 02:30 BST"),  # across the missing hour
])
def test_hours_are_elapsed(start: object, hours: int, expected: str) -> None:
    assert _local(after_hours(start, hours)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("start", "days", "expected"), [
    (utc(2026, 3, 27, 10, 0), 5, "Wed 01 Apr 10:00 BST"),  # 10:00 GMT → 10:00 BST
    (utc(2026, 10, 22, 9, 0), 5, "Tue 27 Oct 10:00 GMT"),  # 10:00 BST → 10:00 GMT
])
def test_days_keep_the_local_time(start: object, days: int, expected: str) -> None:
    assert _local(after_days(start, days)) == expected  # type: ignore[arg-type]


def test_months_clamp_to_month_end() -> None:
    assert _local(after_months(utc(2026, 1, 31, 10), 1)) == "Sat 28 Feb 10:00 GMT"
    assert _local(after_months(utc(2026, 8, 31, 9), 2)) == "Sat 31 Oct 10:00 GMT"


@pytest.fixture
def derby(world: World) -> Authority:
    authority = world.services.directory.authority("derby")
    assert authority is not None
    return authority


def test_next_opening_skips_weekend_and_easter(derby: Authority) -> None:
    assert _local(at_next_opening(derby, utc(2026, 3, 14, 12))) == "Mon 16 Mar 09:00 GMT"
    assert _local(at_next_opening(derby, utc(2026, 4, 2, 17))) == "Tue 07 Apr 09:00 BST"
    in_hours = utc(2026, 3, 17, 11)
    assert at_next_opening(derby, in_hours) == in_hours


def test_reminder_before_a_weekend_deadline_moves_to_the_last_working_afternoon(
        derby: Authority) -> None:
    saturday = utc(2026, 3, 14, 12)
    assert _local(office_time_before(derby, saturday, utc(2026, 3, 12, 12))) == (
        "Fri 13 Mar 16:00 GMT")
    # Easter Monday evening: back to Thursday before Good Friday.
    easter_monday = utc(2026, 4, 6, 19)
    assert _local(office_time_before(derby, easter_monday, utc(2026, 4, 1, 12))) == (
        "Thu 02 Apr 16:00 BST")
    # Early on a working day: the previous working day.
    assert _local(office_time_before(derby, utc(2026, 3, 17, 6), utc(2026, 3, 14))) == (
        "Mon 16 Mar 16:00 GMT")


def test_reminder_stays_put_when_the_clock_started_after_the_last_close(
        derby: Authority) -> None:
    started = utc(2026, 3, 13, 18)  # Friday evening
    sunday = started + timedelta(hours=40)
    assert office_time_before(derby, sunday, started) == sunday
