"""Office hours, bank holidays per nation, and working-day arithmetic for each authority.

Times are compared in UK local time (Europe/London, so BST is handled); a naive datetime is
taken to be UTC. Bank holidays come from the `holidays` package, per nation: England and
Wales share most but not all (Wales has none of its own today, but the package keeps them
apart), Scotland and Northern Ireland differ.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from routing.directory import Authority, OfficeHours

UK_TIME = ZoneInfo("Europe/London")
_SUBDIVISION = {"england": "ENG", "wales": "WLS", "scotland": "SCT", "northern_ireland": "NIR"}


def to_local(when: datetime) -> datetime:
    """Return `when` in UK local time; a naive datetime is taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UK_TIME)


@lru_cache(maxsize=64)
def _bank_holidays(nation: str, year: int) -> frozenset[date]:
    subdivision = _SUBDIVISION.get(nation, "ENG")
    return frozenset(holidays.country_holidays("GB", subdiv=subdivision, years=year).keys())


def bank_holiday_name(nation: str, day: date) -> str | None:
    """Return the name of the bank holiday on `day` in `nation`, or None."""
    if not is_bank_holiday(nation, day):
        return None
    names = holidays.country_holidays("GB", subdiv=_SUBDIVISION.get(nation, "ENG"), years=day.year)
    return str(names.get(day))


def is_bank_holiday(nation: str, day: date) -> bool:
    """Say whether `day` is a bank holiday in `nation` (england, wales, scotland, ...)."""
    return day in _bank_holidays(nation, day.year)


def is_working_day(authority: Authority, day: date) -> bool:
    """Say whether the authority's front door opens on `day` (office day, not a bank holiday)."""
    return day.weekday() in authority.office_hours.days and not is_bank_holiday(
        authority.nation, day
    )


def is_office_hours(authority: Authority, when: datetime) -> bool:
    """Say whether `when` falls inside the authority's office hours on a working day."""
    local = to_local(when)
    hours: OfficeHours = authority.office_hours
    return is_working_day(authority, local.date()) and hours.start <= local.time() < hours.end


def next_working_day_start(authority: Authority, when: datetime) -> datetime:
    """Return when the front door next opens strictly after `when` (UK local, tz-aware).

    Used for the next-working-day copy of an out-of-hours notification (000 §6.2.11).
    """
    local = to_local(when)
    day = local.date()
    if is_working_day(authority, day) and local.time() < authority.office_hours.start:
        return _opening(authority, day)
    day += timedelta(days=1)
    while not is_working_day(authority, day):
        day += timedelta(days=1)
    return _opening(authority, day)


def add_working_days(authority: Authority, start: datetime, days: int) -> datetime:
    """Return the same local time of day `days` working days after `start`.

    Counts whole working days of the authority (office days that are not bank holidays of
    its nation), so Friday + 1 is Monday and Saturday + 1 is Monday too; for clocks such as
    "due within 5 working days" (003 L585).
    """
    if days < 0:
        raise ValueError("days must not be negative")
    local = to_local(start)
    day = local.date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(authority, day):
            counted += 1
    return datetime.combine(day, local.time(), tzinfo=UK_TIME)


def working_days_between(authority: Authority, start: datetime, end: datetime) -> int:
    """Count working days after `start`'s date up to and including `end`'s date."""
    day, last = to_local(start).date(), to_local(end).date()
    count = 0
    while day < last:
        day += timedelta(days=1)
        if is_working_day(authority, day):
            count += 1
    return count


def _opening(authority: Authority, day: date) -> datetime:
    return datetime.combine(day, authority.office_hours.start, tzinfo=UK_TIME)
