"""Due-time arithmetic: elapsed hours, local calendar days and months, office hours.

Hour-based clocks (24 h, 48 h, 72 h) count elapsed time, so a clock that crosses the change
to or from British Summer Time still lasts exactly that many hours. Day- and month-based
clocks (5 days, 14 days, 28 days, 2 months) count calendar days in UK local time and keep
the local time of day, as a person reading "in 14 days" would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta

from routing.calendars import (
    UK_TIME,
    is_office_hours,
    is_working_day,
    next_working_day_start,
    to_local,
)
from routing.directory import Authority


def after_hours(start: datetime, hours: float) -> datetime:
    """Return the instant `hours` elapsed hours after `start`, in UTC."""
    return (start + timedelta(hours=hours)).astimezone(UTC)


def after_days(start: datetime, days: int) -> datetime:
    """Return the same UK local time of day `days` calendar days after `start`, in UTC."""
    return _local_shift(start, relativedelta(days=days))


def after_months(start: datetime, months: int) -> datetime:
    """Return the same UK local time `months` calendar months after `start` (day clamped)."""
    return _local_shift(start, relativedelta(months=months))


def _local_shift(start: datetime, delta: relativedelta) -> datetime:
    local = to_local(start)
    naive: datetime = local.replace(tzinfo=None) + delta
    return naive.replace(tzinfo=UK_TIME).astimezone(UTC)


def at_next_opening(authority: Authority, when: datetime) -> datetime:
    """Return `when` if the authority's front door is open then, else its next opening."""
    if is_office_hours(authority, when):
        return when.astimezone(UTC)
    return next_working_day_start(authority, when).astimezone(UTC)


def office_time_before(authority: Authority, when: datetime, not_before: datetime,
                       margin: timedelta = timedelta(hours=1)) -> datetime:
    """Return the latest office-hours moment at or before `when`, for a reminder.

    A reminder meant for `when` that falls in a night, weekend or bank holiday is brought
    forward to `margin` before the close of the last working day, so that someone at work
    sees it before the deadline. If that would be before `not_before` (the clock started
    after the last close), the reminder stays at `when`.
    """
    if is_office_hours(authority, when):
        return when.astimezone(UTC)
    local = to_local(when)
    hours = authority.office_hours
    day = local.date()
    for _ in range(31):
        if is_working_day(authority, day) and (day < local.date() or local.time() >= hours.end):
            close = datetime.combine(day, hours.end, tzinfo=UK_TIME) - margin
            opening = datetime.combine(day, hours.start, tzinfo=UK_TIME)
            candidate = max(close, opening)
            if candidate < not_before:
                return when.astimezone(UTC)
            return candidate.astimezone(UTC)
        day -= timedelta(days=1)
    return when.astimezone(UTC)
