"""A longer fuzz run over both police adapters: random bytes and mutated valid documents.

Usage: python bench/fuzz_police.py [ITERATIONS] [SEED]   (defaults: 10000, 1)

Every input must either parse to a Notification or raise InvalidMessage naming at least one
field; anything else is counted as a crash and its first few tracebacks are printed. Exits 1
if there was any crash.
"""

from __future__ import annotations

import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from adapters.compact import CompactAdapter  # noqa: E402
from adapters.niche import NicheAdapter  # noqa: E402
from tests.unit.adapters.police_fuzz import mutate, outcome, seed_documents  # noqa: E402

SHOW_CRASHES = 5


def main() -> int:
    """Run the fuzz loop and print counts per adapter."""
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rng = random.Random(seed)
    adapters = [CompactAdapter(), NicheAdapter()]
    seeds = {a.name: seed_documents(a.name) for a in adapters}
    counts: dict[str, Counter[str]] = {a.name: Counter() for a in adapters}
    shown = 0
    start = time.perf_counter()
    for i in range(iterations):
        adapter = adapters[i % len(adapters)]
        if rng.random() < 0.1:
            raw = rng.randbytes(rng.randrange(0, 2048))
        else:
            raw = mutate(rng.choice(seeds[adapter.name]), rng)
        try:
            counts[adapter.name][outcome(adapter, raw)] += 1
        except Exception:  # the point of a fuzzer: count whatever escapes
            counts[adapter.name]["crashes"] += 1
            if shown < SHOW_CRASHES:
                shown += 1
                print(f"--- crash on input {raw[:200]!r}", file=sys.stderr)
                traceback.print_exc()
    elapsed = time.perf_counter() - start
    print(
        f"iterations={iterations} seed={seed} time={elapsed:.1f}s "
        f"({iterations / elapsed:.0f} inputs/s)"
    )
    for name, count in counts.items():
        print(
            f"{name:8} accepted={count['accepted']} rejected={count['rejected']} "
            f"crashes={count['crashes']}"
        )
    return 1 if any(c["crashes"] for c in counts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
