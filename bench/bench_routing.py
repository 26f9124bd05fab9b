"""Benchmark routing: decisions per second over a synthetic national mix, and directory loading.

Builds a directory of 150 English upper-tier authorities and 40 forces (written as YAML and
loaded through the real loader), a postcode table of 20 000 synthetic postcodes, and a mix of
notifications: missing from home, looked after in and out of area, unknown authorities,
placements outside England, found reports with history, RHI outcomes, at all hours of a year.

Run: .venv/bin/python bench/bench_routing.py [--decisions N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

from gateway.domain.enums import EventType, LegalStatus, PlacementType, RiskGrade
from gateway.domain.model import (
    Address,
    Child,
    FoundDetails,
    Notification,
    Placement,
    RiskAssessment,
)
from routing.directory import TEAMS, Directory
from routing.directory_loader import load_directory
from routing.recipients import EpisodeHistory, route

AUTHORITIES = 150
FORCES = 40
POSTCODES = 20_000
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Answer:
    """What routing reads of a postcode lookup."""

    postcode: str
    outcome: str
    nation: str | None
    upper_tier: str | None
    reason: str


class TablePostcodes:
    """An in-memory postcode table standing in for the real index."""

    def __init__(self, table: dict[str, str | None]) -> None:
        self.table = table

    def lookup(self, postcode: str) -> Answer:
        """Answer from the table: FOUND, NOT_ENGLAND (None) or UNKNOWN."""
        if postcode not in self.table:
            return Answer(postcode, "UNKNOWN", None, None, f"{postcode} unknown")
        upper = self.table[postcode]
        if upper is None:
            return Answer(postcode, "NOT_ENGLAND", "wales", None, f"{postcode} is in Wales")
        return Answer(postcode, "FOUND", "england", upper, f"{postcode} is in {upper}")


def write_config(root: Path, rng: random.Random) -> None:
    """Write authorities/*.yaml and forces/*.yaml for a synthetic country."""
    (root / "authorities").mkdir(parents=True)
    (root / "forces").mkdir()
    ids = [f"authority-{i:03d}" for i in range(AUTHORITIES)]
    for i, ident in enumerate(ids):
        doc = {
            "id": ident,
            "name": f"Authority {i:03d} Council",
            "gss_code": f"E{('06', '08', '09', '10')[i % 4]}000{i:03d}",
            "la_code": f"{100 + i:03d}",
            "case_system": rng.choice(["mosaic", "liquidlogic", "secure_mail"]),
            "aliases": [f"A{i:03d}"],
            "teams": {
                team: {"kind": "folder", "address": f"drop/{ident}/{team}", "encryption": "none"}
                for team in TEAMS
            },
            "rules": {"rhi": {"does_rhi_for_placed_in": bool(i % 3 == 0)}},
        }
        (root / "authorities" / f"{ident}.yaml").write_text(yaml.safe_dump(doc))
    for f in range(FORCES):
        area = ids[f * AUTHORITIES // FORCES : (f + 1) * AUTHORITIES // FORCES]
        doc = {
            "id": f"force-{f:02d}",
            "name": f"Force {f:02d} Police",
            "adapter": rng.choice(["compact", "niche"]),
            "feedback_channel": {
                "kind": "folder",
                "address": f"drop/police/force-{f:02d}",
                "encryption": "none",
            },
            "area_authorities": area,
        }
        (root / "forces" / f"force-{f:02d}.yaml").write_text(yaml.safe_dump(doc))
    (root / "defaults.yaml").write_text("authority: {nation: england}\n")


def postcode_table(directory: Directory, rng: random.Random) -> dict[str, str | None]:
    """Synthetic postcodes spread over the authorities, a few in Wales."""
    codes = [a.gss_code for a in directory.authorities.values()]
    table: dict[str, str | None] = {}
    for i in range(POSTCODES):
        table[f"Z{i:05d}"] = None if i % 97 == 0 else rng.choice(codes)
    return table


def mix(
    directory: Directory, table: dict[str, str | None], rng: random.Random, n: int
) -> list[tuple[Notification, EpisodeHistory | None, datetime]]:
    """Notifications in a national mix, each with its history and decision time."""
    postcodes = list(table)
    names = [a.name for a in directory.authorities.values()]
    forces = list(directory.forces)
    out: list[tuple[Notification, EpisodeHistory | None, datetime]] = []
    for _ in range(n):
        now = START + timedelta(minutes=rng.randrange(365 * 24 * 60))
        roll = rng.random()
        kid = Child("A", "B", date(2011, 1, 1), home_address=Address((), rng.choice(postcodes)))
        if roll < 0.55:
            placement = Placement(PlacementType.HOME)
        else:
            responsible = rng.choice(names) if roll < 0.93 else rng.choice([None, "Nowhere CC"])
            postcode = rng.choice(postcodes) if roll < 0.97 else rng.choice([None, "XX1 1XX"])
            placement = Placement(
                rng.choice([PlacementType.FOSTER, PlacementType.RESIDENTIAL]),
                rng.choice([LegalStatus.S31, LegalStatus.S20, LegalStatus.REMAND]),
                Address((), postcode) if postcode else None,
                responsible,
                confidential=rng.random() < 0.05,
            )
        event = rng.choices(
            [EventType.MISSING_REPORTED, EventType.FOUND, EventType.UPDATE, EventType.RHI_OUTCOME],
            [50, 40, 7, 3],
        )[0]
        notification = Notification(
            event=event,
            force=rng.choice(forces),
            police_reference="R",
            occurred_at=now,
            child=kid,
            placement=placement,
            risk=RiskAssessment(rng.choice(list(RiskGrade)), now),
            found=FoundDetails(now) if event is EventType.FOUND else None,
        )
        history = None
        if event is not EventType.MISSING_REPORTED:
            first = Notification(
                EventType.MISSING_REPORTED,
                notification.force,
                "R",
                now - timedelta(hours=9),
                child=kid,
                placement=placement,
            )
            earlier = route(first, None, directory, TablePostcodes(table), first.occurred_at)
            history = EpisodeHistory.from_decisions([earlier], child=kid, placement=placement)
        out.append((notification, history, now))
    return out


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "config"
        write_config(root, rng)
        started = time.perf_counter()
        directory = load_directory(root)
        load_seconds = time.perf_counter() - started
    table = postcode_table(directory, rng)
    lookup = TablePostcodes(table)
    cases = mix(directory, table, rng, args.decisions)
    timings: list[float] = []
    recipients = items = 0
    started = time.perf_counter()
    for notification, history, now in cases:
        t0 = time.perf_counter()
        decision = route(notification, history, directory, lookup, now)
        timings.append(time.perf_counter() - t0)
        recipients += len(decision.recipients)
        items += len(decision.items)
    total = time.perf_counter() - started
    timings.sort()
    print(
        f"directory: {len(directory.authorities)} authorities, {len(directory.forces)} forces "
        f"loaded from YAML in {load_seconds * 1000:.0f} ms"
    )
    print(f"decisions: {len(cases)} in {total:.2f} s = {len(cases) / total:,.0f} per second")
    print(
        f"latency: median {statistics.median(timings) * 1e6:.0f} us, "
        f"p99 {timings[int(len(timings) * 0.99)] * 1e6:.0f} us, max {timings[-1] * 1e6:.0f} us"
    )
    print(
        f"per decision: {recipients / len(cases):.2f} recipients, "
        f"{items / len(cases):.3f} coordinator items"
    )


if __name__ == "__main__":
    main()
