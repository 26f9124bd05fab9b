"""Rendering throughput of the case-system adapters, per event and per system.

Usage: python bench/bench_render.py [ROUNDS]   (default 300 renders per cell)

Each cell renders one golden-case notification (tests/unit/adapters/case_systems_cases.py)
as that system's import file: minimisation, summary, XML or MIME, serialisation. The last
rows time the way back: parsing one acknowledgement and one RHI export per system.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.unit.adapters.case_systems_cases import (  # noqa: E402
    CASES,
    SYSTEMS,
    adapters,
    inbound_cases,
)

EVENT_CASES = ["missing_reported", "update", "risk_regraded", "found", "closed", "cancelled",
               "rhi_outcome"]


def per_second(rounds: int, work: Callable[[], object]) -> float:
    """Return how many times per second `work` runs, over `rounds` calls after a warm-up."""
    work()
    start = time.perf_counter()
    for _ in range(rounds):
        work()
    return rounds / (time.perf_counter() - start)


def main(rounds: int) -> None:
    """Print renders per second for every event and system, then parses per second."""
    instances = adapters()
    print(f"renders per second ({rounds} rounds per cell)")
    print(f"{'event':<20}" + "".join(f"{s:>14}" for s in SYSTEMS))
    for case in EVENT_CASES:
        notification, profile = CASES[case]
        cells = [per_second(rounds, lambda a=instances[s], n=notification, p=profile:
                            a.render(n, p)) for s in SYSTEMS]
        print(f"{notification.event.value:<20}" + "".join(f"{c:>14,.0f}" for c in cells))
    print()
    print(f"parses per second ({rounds} rounds per cell)")
    print(f"{'file':<20}" + "".join(f"{s:>14}" for s in SYSTEMS))
    for kind, method in (("receipts", "parse_receipt"), ("rhi", "parse_rhi_outcome")):
        cells = []
        for system in SYSTEMS:
            raw = inbound_cases(system, kind)[0].read_bytes()
            parse = getattr(instances[system], method)
            cells.append(per_second(rounds, lambda p=parse, r=raw: p(r)))
        print(f"{kind:<20}" + "".join(f"{c:>14,.0f}" for c in cells))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
