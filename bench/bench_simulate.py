"""Benchmark the tracking simulation: a year of national-scale missing episodes.

Runs `gateway simulate` in-process (about 130,000 episodes a year across England and Wales,
on the demo directory's authorities) and prints the wall time, the peak memory of this
process and of its worker processes, and clocks fired per second, then the run's report.
With --engine-clocks N it first times the clock engine alone: N clocks scheduled in bulk,
then claimed and fired by ticks with a handler that does nothing.

Run: .venv/bin/python bench/bench_simulate.py [--days 365] [--workers 2] [--seed 1]
         [--engine-clocks 100000]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from gateway.store import migrate
from gateway.store.db import Database
from gateway.store.models import ClockRow
from gateway.tracking import clocks
from gateway.tracking.cli import report_lines
from gateway.tracking.clocks import ClockEngine, Fired
from gateway.tracking.simulate import NATIONAL_EPISODES_PER_YEAR, SimulationConfig, simulate

CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo"


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--episodes-per-year", type=int, default=NATIONAL_EPISODES_PER_YEAR)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine-clocks", type=int, default=0)
    args = parser.parse_args()
    if args.engine_clocks:
        engine_only(args.engine_clocks)
    if not args.days:
        return
    config = SimulationConfig(days=args.days, seed=args.seed,
                              episodes_per_year=args.episodes_per_year, workers=args.workers)
    done = 0

    def progress(days: int) -> None:
        nonlocal done
        done += days
        if done % 30 == 0 or done == args.days:
            print(f"  ... day {done}/{args.days}", file=sys.stderr, flush=True)

    result = simulate(config, CONFIG, progress)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"simulate --days {args.days}: {result.episodes:,} episodes, "
          f"{args.workers} worker(s), {os.cpu_count()} CPU(s)")
    print(f"wall time:          {result.wall_seconds:,.1f} s")
    print(f"peak memory:        {own:,.0f} MB (this process), {workers:,.0f} MB (largest worker)")
    print(f"clocks fired:       {result.clocks.fired:,} "
          f"({result.clocks_fired_per_second:,.0f} per second)")
    print(f"episodes/second:    {result.episodes / result.wall_seconds:,.0f}")
    for line in report_lines(result):
        print(line)


def engine_only(count: int) -> None:
    """Time scheduling and firing `count` clocks with a handler that does nothing."""

    def nothing(session: Session, clock: ClockRow, now: datetime) -> Fired:
        return Fired("moot")

    start = datetime(2026, 3, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(f"sqlite:///{Path(scratch) / 'engine.db'}")
        migrate.upgrade(db.engine)
        began = time.perf_counter()
        with db.unit_of_work() as session:
            rows = [clocks.clock_values(kind="bench", subject_type="bench", subject_id=str(n),
                                        due_at=start + timedelta(seconds=n % 86400), now=start)
                    for n in range(count)]
            for first in range(0, count, 10000):
                clocks.schedule_many(session, rows[first:first + 10000])
        scheduled = time.perf_counter() - began
        engine = ClockEngine(db, {"bench": nothing}, batch=500)
        began = time.perf_counter()
        fired = 0
        for hour in range(1, 25):
            fired += engine.tick(start + timedelta(hours=hour)).fired
        firing = time.perf_counter() - began
        db.dispose()
    print(f"engine only: {count:,} clocks scheduled in {scheduled:.1f} s "
          f"({count / scheduled:,.0f}/s); {fired:,} fired by 24 hourly ticks in {firing:.1f} s "
          f"({fired / firing:,.0f}/s)")


if __name__ == "__main__":
    main()
