"""Office hours, bank holidays per nation and working-day arithmetic (DOMAIN.md §4-§5)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest

from routing.calendars import (
    UK_TIME,
    add_working_days,
    bank_holiday_name,
    is_bank_holiday,
    is_office_hours,
    next_working_day_start,
    to_local,
    working_days_between,
)
from routing.directory import Authority, OfficeHours
from tests.unit.routing.routing_fakes import demo_directory

WARKS = demo_directory().authorities["warwickshire"]


def in_nation(nation: str) -> Authority:
    return replace(WARKS, nation=nation)  # type: ignore[arg-type]


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UK_TIME)


@pytest.mark.parametrize(
    ("nation", "day", "holiday"),
    [
        ("england", date(2026, 12, 25), True),
        ("wales", date(2026, 12, 25), True),
        ("scotland", date(2026, 12, 25), True),
        ("northern_ireland", date(2026, 12, 25), True),
        ("england", date(2026, 12, 28), True),  # Boxing Day substitute
        ("england", date(2026, 8, 31), True),  # summer bank holiday, England and Wales
        ("wales", date(2026, 8, 31), True),
        ("scotland", date(2026, 8, 31), False),
        ("scotland", date(2026, 8, 3), True),  # Scotland's summer bank holiday
        ("england", date(2026, 8, 3), False),
        ("scotland", date(2027, 1, 4), True),  # 2 January substitute
        ("england", date(2027, 1, 4), False),
        ("northern_ireland", date(2026, 3, 17), True),  # St Patrick's Day
        ("england", date(2026, 3, 17), False),
        ("scotland", date(2026, 11, 30), True),  # St Andrew's Day
        ("england", date(2026, 4, 6), True),  # Easter Monday
        ("scotland", date(2026, 4, 6), False),
    ],
)
def test_bank_holidays_per_nation(nation: str, day: date, holiday: bool) -> None:
    assert is_bank_holiday(nation, day) is holiday


def test_bank_holiday_has_a_name() -> None:
    assert bank_holiday_name("england", date(2026, 12, 25)) == "Christmas Day"
    assert bank_holiday_name("england", date(2026, 12, 24)) is None


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        (datetime(2026, 3, 10, 9, 0, tzinfo=UTC), True),  # 09:00 GMT
        (datetime(2026, 3, 10, 8, 59, tzinfo=UTC), False),
        (datetime(2026, 3, 10, 16, 59, tzinfo=UTC), True),
        (datetime(2026, 3, 10, 17, 0, tzinfo=UTC), False),  # end is exclusive
        (datetime(2026, 6, 2, 8, 0, tzinfo=UTC), True),  # 09:00 BST
        (datetime(2026, 6, 2, 16, 0, tzinfo=UTC), False),  # 17:00 BST
        (datetime(2026, 3, 29, 10, 0, tzinfo=UTC), False),  # Sunday BST starts
        (datetime(2026, 3, 30, 8, 0, tzinfo=UTC), True),  # Monday 09:00 BST
        (datetime(2026, 10, 26, 8, 30, tzinfo=UTC), False),  # Monday 08:30 GMT
        (datetime(2026, 3, 10, 11, 0), True),  # naive: taken as UTC
    ],
)
def test_office_hours_in_uk_time(when: datetime, open_: bool) -> None:
    assert is_office_hours(WARKS, when) is open_


def test_office_hours_follow_the_authority_configuration() -> None:
    saturday_service = replace(
        WARKS, office_hours=OfficeHours(frozenset({5}), time(10, 0), time(12, 0))
    )
    assert is_office_hours(saturday_service, local(2026, 3, 14, 11, 0))
    assert not is_office_hours(saturday_service, local(2026, 3, 10, 11, 0))


@pytest.mark.parametrize(
    ("nation", "when", "opens"),
    [
        ("england", local(2026, 3, 10, 22, 0), local(2026, 3, 11, 9, 0)),
        ("england", local(2026, 3, 11, 6, 0), local(2026, 3, 11, 9, 0)),
        ("england", local(2026, 3, 11, 10, 0), local(2026, 3, 12, 9, 0)),
        ("england", local(2026, 3, 13, 17, 30), local(2026, 3, 16, 9, 0)),
        ("england", local(2026, 12, 24, 18, 0), local(2026, 12, 29, 9, 0)),
        ("england", local(2026, 8, 28, 18, 0), local(2026, 9, 1, 9, 0)),
        ("scotland", local(2026, 8, 28, 18, 0), local(2026, 8, 31, 9, 0)),
        ("scotland", local(2026, 12, 31, 18, 0), local(2027, 1, 5, 9, 0)),
        ("england", local(2026, 12, 31, 18, 0), local(2027, 1, 4, 9, 0)),
        ("england", local(2026, 3, 28, 18, 0), local(2026, 3, 30, 9, 0)),  # over BST start
    ],
)
def test_next_working_day_start(nation: str, when: datetime, opens: datetime) -> None:
    got = next_working_day_start(in_nation(nation), when)
    assert got == opens
    assert got.utcoffset() == opens.utcoffset()


@pytest.mark.parametrize(
    ("nation", "start", "days", "due"),
    [
        ("england", local(2026, 3, 10, 11, 0), 5, local(2026, 3, 17, 11, 0)),
        ("england", local(2026, 3, 13, 11, 0), 1, local(2026, 3, 16, 11, 0)),  # Fri + 1
        ("england", local(2026, 3, 14, 11, 0), 1, local(2026, 3, 16, 11, 0)),  # Sat + 1
        ("england", local(2026, 12, 23, 11, 0), 2, local(2026, 12, 29, 11, 0)),
        ("england", local(2026, 8, 28, 11, 0), 1, local(2026, 9, 1, 11, 0)),
        ("scotland", local(2026, 8, 28, 11, 0), 1, local(2026, 8, 31, 11, 0)),
        ("england", local(2026, 3, 10, 11, 0), 0, local(2026, 3, 10, 11, 0)),
    ],
)
def test_add_working_days(nation: str, start: datetime, days: int, due: datetime) -> None:
    assert add_working_days(in_nation(nation), start, days) == due


def test_add_working_days_keeps_local_time_across_bst() -> None:
    due = add_working_days(WARKS, local(2026, 3, 27, 10, 0), 1)
    assert due == local(2026, 3, 30, 10, 0)
    assert due.astimezone(UTC).hour == 9


def test_add_working_days_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_working_days(WARKS, local(2026, 3, 10, 11, 0), -1)


def test_working_days_between() -> None:
    assert working_days_between(WARKS, local(2026, 12, 24, 9, 0), local(2026, 12, 31, 9, 0)) == 3
    assert working_days_between(WARKS, local(2026, 3, 10, 9, 0), local(2026, 3, 10, 18, 0)) == 0


def test_to_local_reads_naive_as_utc() -> None:
    assert to_local(datetime(2026, 7, 1, 12, 0)).hour == 13
