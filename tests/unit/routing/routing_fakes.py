"""Fakes and builders shared by the routing unit tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from gateway.domain.enums import EventType, LegalStatus, PlacementType, RiskGrade
from gateway.domain.model import (
    Address,
    Child,
    FoundDetails,
    Notification,
    Placement,
    RiskAssessment,
)
from routing.directory import Directory
from routing.directory_loader import load_directory

DEMO_ROOT = Path(__file__).resolve().parents[3] / "config" / "demo"


@dataclass(frozen=True)
class FakeAnswer:
    """The fields of routing.geography.PostcodeResult that routing reads."""

    postcode: str
    outcome: str
    nation: str | None
    lower_tier: str | None
    upper_tier: str | None
    reason: str


# Postcode -> (nation, upper-tier GSS code); real postcodes of the demo areas.
POSTCODES: dict[str, tuple[str, str | None]] = {
    "CV34 4RL": ("england", "E10000031"),  # Warwick: Warwickshire
    "CV11 4AB": ("england", "E10000031"),  # Nuneaton: Warwickshire
    "ME4 4TR": ("england", "E06000035"),  # Chatham: Medway
    "CT1 2HX": ("england", "E10000016"),  # Canterbury: Kent
    "DN31 1HU": ("england", "E06000012"),  # Grimsby: North East Lincolnshire
    "DE1 2FS": ("england", "E06000015"),  # Derby
    "DE4 3AG": ("england", "E10000007"),  # Matlock: Derbyshire
    "WA7 5TD": ("england", "E06000006"),  # Runcorn: Halton
    "WA1 1UH": ("england", "E06000007"),  # Warrington
    "CW1 2BJ": ("england", "E06000049"),  # Crewe: Cheshire East
    "CH1 2HS": ("england", "E06000050"),  # Chester: Cheshire West and Chester
    "B1 1BB": ("england", "E08000025"),  # Birmingham: not in the demo directory
    "LL11 1AY": ("wales", None),  # Wrexham
    "CF10 1EP": ("wales", None),  # Cardiff
    "EH1 1YZ": ("scotland", None),  # Edinburgh
    "BT1 5GS": ("northern_ireland", None),  # Belfast
}


class FakePostcodes:
    """A PostcodeLookup over a fixed table; unknown and malformed postcodes as the real one."""

    def __init__(self, table: dict[str, tuple[str, str | None]] | None = None) -> None:
        self.table = {k.replace(" ", ""): v for k, v in (table or POSTCODES).items()}
        self.calls: list[str] = []

    def lookup(self, postcode: str) -> FakeAnswer:
        self.calls.append(postcode)
        compact = postcode.replace(" ", "").upper()
        shown = f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact
        if len(compact) < 5 or not compact[-3].isdigit():
            return FakeAnswer(compact, "MALFORMED", None, None, None, f"{compact!r} is malformed")
        if compact not in self.table:
            return FakeAnswer(shown, "UNKNOWN", None, None, None, f"{shown} is not listed")
        nation, upper = self.table[compact]
        if nation != "england":
            return FakeAnswer(shown, "NOT_ENGLAND", nation, "W06000001", None, f"{shown}: {nation}")
        return FakeAnswer(shown, "FOUND", nation, upper, upper, f"{shown} is in {upper}")


_DIRECTORY: Directory | None = None


def demo_directory() -> Directory:
    """Load config/demo once per test session."""
    global _DIRECTORY
    if _DIRECTORY is None:
        _DIRECTORY = load_directory(DEMO_ROOT)
    return _DIRECTORY


def child(*, home: str | None = None, born: date = date(2011, 5, 1), uasc: bool = False) -> Child:
    return Child(
        given_name="Sam",
        family_name="Test",
        date_of_birth=born,
        uasc=uasc,
        home_address=Address(("1 High Street",), home) if home else None,
    )


def placement(
    postcode: str | None,
    responsible: str | None,
    *,
    type_: PlacementType = PlacementType.FOSTER,
    legal: LegalStatus = LegalStatus.S31,
    confidential: bool = False,
) -> Placement:
    return Placement(
        type=type_,
        legal_status=legal,
        address=Address(("2 Carer Road",), postcode) if postcode else None,
        responsible_authority=responsible,
        confidential=confidential,
    )


def notification(
    event: EventType = EventType.MISSING_REPORTED,
    *,
    force: str = "warwickshire-police",
    when: datetime = datetime(2026, 3, 10, 11, 0),
    kid: Child | None = None,
    place: Placement | None = None,
    missing_from: str | None = None,
    grade: RiskGrade | None = RiskGrade.MEDIUM,
    extra: dict[str, str] | None = None,
) -> Notification:
    return Notification(
        event=event,
        force=force,
        police_reference="REF-1",
        occurred_at=when,
        child=kid,
        placement=place,
        risk=RiskAssessment(grade=grade, assessed_at=when) if grade else None,
        missing_from=Address(("somewhere",), missing_from) if missing_from else None,
        found=FoundDetails(found_at=when) if event is EventType.FOUND else None,
        extra=extra or {},
    )
