"""The one injected `now`: every clock in the gateway reads time through a Clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def system_clock() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


class FakeClock:
    """A settable clock for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self.now = start

    def __call__(self) -> datetime:
        """Return the fake now."""
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward and return the new now."""
        self.now += delta
        return self.now


Clock = Callable[[], datetime]
