"""Throughput of the police adapters: parse + validate per message beside the bare lxml parse.

Usage: python bench/bench_police_parse.py [ROUNDS]   (default 200 rounds over every fixture)

The bare parse (hardened lxml parser, no checks) is the floor; the columns after it show what
the safety checks, XSD validation and mapping cost on top.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lxml import etree  # noqa: E402

from adapters.compact import CompactAdapter  # noqa: E402
from adapters.niche import NicheAdapter  # noqa: E402
from adapters.police_xml import PoliceXmlAdapter  # noqa: E402
from adapters.xml_safety import make_parser, parse_document  # noqa: E402

FIXTURES = REPO / "tests" / "unit" / "adapters" / "fixtures"


def per_message_us(docs: list[bytes], rounds: int, work: Callable[[bytes], object]) -> float:
    """Return the mean microseconds `work` takes per document over `rounds` passes."""
    for doc in docs:  # warm caches (compiled XPaths, schema per thread)
        work(doc)
    start = time.perf_counter()
    for _ in range(rounds):
        for doc in docs:
            work(doc)
    return (time.perf_counter() - start) / (rounds * len(docs)) * 1e6


def bench(adapter: PoliceXmlAdapter, rounds: int) -> None:
    """Print one adapter's row of figures."""
    # Force variants need their overrides: time the default format only.
    paths = sorted((FIXTURES / adapter.name).glob("*.xml"))
    docs = [p.read_bytes() for p in paths if not p.with_suffix(".overrides.json").exists()]
    mapping = adapter.mapping_for(None)
    parser = make_parser()
    floor = per_message_us(docs, rounds, lambda d: etree.fromstring(d, parser))
    safe = per_message_us(docs, rounds, lambda d: parse_document(d, mapping.root_names))
    schema = per_message_us(
        docs,
        rounds,
        lambda d: adapter.schema_errors(parse_document(d, mapping.root_names), mapping),
    )
    full = per_message_us(docs, rounds, adapter.parse)
    size = sum(len(d) for d in docs) / len(docs)
    print(
        f"{adapter.name:8} {len(docs):5} {size:8.0f} {floor:10.1f} {safe:10.1f} {schema:12.1f} "
        f"{full:10.1f} {full / floor:7.1f}x {1e6 / full:10.0f}"
    )


def main() -> None:
    """Run the benchmark for both adapters."""
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(f"rounds={rounds}; times are microseconds per message")
    print(
        f"{'adapter':8} {'docs':>5} {'bytes':>8} {'bare lxml':>10} {'+safety':>10} "
        f"{'+safety+xsd':>12} {'parse()':>10} {'vs floor':>8} {'msgs/s':>10}"
    )
    for adapter in (CompactAdapter(), NicheAdapter()):
        bench(adapter, rounds)


if __name__ == "__main__":
    main()
