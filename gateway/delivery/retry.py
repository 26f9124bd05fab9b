"""Retry policy: exponential backoff with jitter, up to a ceiling after which a person is told."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again after a transient failure, and when to stop and hold."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    ceiling: timedelta = timedelta(hours=24)
    jitter: float = 0.25

    def next_attempt(
        self, attempts: int, now: datetime, rng: random.Random | None = None
    ) -> datetime:
        """Return when attempt number `attempts + 1` should run."""
        delay = min(self.base * (1 << max(attempts - 1, 0)), self.cap)
        uniform = rng.uniform if rng is not None else random.uniform
        spread: float = uniform(1 - self.jitter, 1 + self.jitter)
        return now + delay * spread

    def exhausted(self, created_at: datetime, now: datetime) -> bool:
        """Say whether retrying has gone on past the ceiling."""
        return now - created_at >= self.ceiling
