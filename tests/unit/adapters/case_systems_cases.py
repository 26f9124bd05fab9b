"""Cases and golden-file support for the case-system adapter tests (Mosaic, LCS, secure mail).

Layout under fixtures/<system>/ (system: mosaic, liquidlogic, secure_mail):
  render/<case><suffix>          the expected rendering of CASES[case] for that system
  (secure_mail/summary/<case>.txt the readable summary every rendering of the case carries)
  receipts/<name>.xml|json       an acknowledgement file; <name>.expected.json its receipt
  receipts/invalid/<name>.*      a malformed one; <name>.reasons.json its reasons, in order
  rhi/<name>.xml|json            an RHI export; <name>.expected.json its outcome
  rhi/invalid/<name>.*           a malformed one; <name>.reasons.json its reasons

Run `python -m tests.unit.adapters.case_systems_cases --write` to (re)write every expected
file from what the adapters produce now; review the diff before trusting it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.liquidlogic import LiquidlogicAdapter
from adapters.mosaic import MosaicAdapter
from adapters.secure_mail import SecureMailAdapter
from adapters.secure_mail.summary import build_summary, summary_text
from gateway.domain.enums import (
    EthnicityCode,
    EventType,
    Gender,
    LegalStatus,
    PlacementType,
    RiskFactor,
    RiskGrade,
)
from gateway.domain.errors import InvalidMessage
from gateway.domain.model import (
    Address,
    Child,
    FoundDetails,
    Notification,
    Person,
    Placement,
    RiskAssessment,
)
from gateway.domain.receipts import (
    ContactMethod,
    RhiAttempt,
    RhiOutcome,
    RhiStatus,
    YesNoNa,
    receipt_to_json,
    rhi_outcome_notification,
    rhi_outcome_to_json,
)
from gateway.domain.schemas import notification_to_json
from routing.minimisation import minimise

FIXTURES = Path(__file__).parent / "fixtures"
SYSTEMS = ("mosaic", "liquidlogic", "secure_mail")
SUFFIXES = {"mosaic": ".mosaic.xml", "liquidlogic": ".lcs.xml", "secure_mail": ".eml"}

T0 = datetime(2026, 3, 17, 21, 40, tzinfo=UTC)
CHILD = Child(
    given_name="Amelia", family_name="Hart", date_of_birth=date(2011, 6, 2),
    gender=Gender.FEMALE, ethnicity=EthnicityCode.W1, nhs_number="9434765919",
    council_child_id="KCC-204811", description="Slim build, shoulder-length brown hair",
    clothing="Black puffer jacket, grey joggers, white trainers",
    home_address=Address(("12 Mill Street", "Warwick"), "CV34 4RL"),
)
PLACEMENT = Placement(
    type=PlacementType.FOSTER, legal_status=LegalStatus.S20,
    address=Address(("12 Mill Street", "Warwick"), "CV34 4RL"),
    responsible_authority="Kent County Council",
)
RISK = RiskAssessment(grade=RiskGrade.MEDIUM, assessed_at=T0 - timedelta(minutes=10),
                      factors=(RiskFactor.CSE,), authorised_by="PS 2231 Okafor")
MISSING = Notification(
    event=EventType.MISSING_REPORTED, force="warwickshire-police",
    police_reference="WK-MP-2026-000417", occurred_at=T0, incident_number="WK-20260317-0457",
    child=CHILD, placement=PLACEMENT, risk=RISK, reported_at=T0 - timedelta(minutes=25),
    last_seen_at=T0 - timedelta(hours=4, minutes=10), last_seen_place="Warwick bus station",
    last_seen_with="Two older males", missing_from=Address(("12 Mill Street",), "CV34 4RL"),
    circumstances="Left placement after an argument; phone switched off.",
    associates=(Person("Jordan Reed", "friend"),), places_frequented=("Coventry city centre",),
    reporter=Person("Sarah Collins", "Foster carer", "+441632960417"), previous_episodes=2,
    summary="Third episode this quarter; CSE concerns known to Kent.",
)
FOUND = FoundDetails(found_at=T0 + timedelta(hours=20), found_place="Coventry station",
                     found_by="PC 4410 Shah", returned_to="Foster placement, Mill Street",
                     prevention_interview_done=True)
RHI = RhiOutcome(
    system="mosaic", status=RhiStatus.COMPLETED, offered=YesNoNa.YES, accepted=YesNoNa.YES,
    offered_on=date(2026, 3, 19),
    attempts=(RhiAttempt(T0 + timedelta(days=2), ContactMethod.PHONE, False),
              RhiAttempt(T0 + timedelta(days=3), ContactMethod.VISIT, True)),
    completed_on=date(2026, 3, 20), completed_by="Kent RHI service (J. Patel)",
    summary="Amelia says she went to see friends in Coventry. Safety plan agreed with carer.",
)


def _rhi_notification() -> Notification:
    return rhi_outcome_notification(RHI, force="warwickshire-police",
                                     police_reference=MISSING.police_reference,
                                     occurred_at=T0 + timedelta(days=3), child=CHILD)


# name → (notification, profile). Every event once as an action copy, then edge cases.
CASES: dict[str, tuple[Notification, str]] = {
    "missing_reported": (MISSING, "responsible_action"),
    "update": (replace(MISSING, event=EventType.UPDATE, revision=2,
                       occurred_at=T0 + timedelta(hours=2),
                       summary="Seen on CCTV at Coventry station at 23:10."), "responsible_action"),
    "risk_regraded": (replace(MISSING, event=EventType.RISK_REGRADED, revision=3,
                              occurred_at=T0 + timedelta(hours=6),
                              risk=RiskAssessment(RiskGrade.HIGH, T0 + timedelta(hours=6),
                                                  (RiskFactor.CSE, RiskFactor.SELF_HARM),
                                                  "Insp 1180 Green",
                                                  "Messages suggest meeting an adult."),
                              summary=None), "responsible_action"),
    "found": (replace(MISSING, event=EventType.FOUND, revision=4,
                      occurred_at=T0 + timedelta(hours=20, minutes=30), found=FOUND,
                      summary="Found safe and well."), "responsible_action"),
    "closed": (replace(MISSING, event=EventType.CLOSED, revision=5,
                       occurred_at=T0 + timedelta(days=1), found=FOUND, summary=None),
               "responsible_action"),
    "cancelled": (replace(MISSING, event=EventType.CANCELLED, revision=2,
                          occurred_at=T0 + timedelta(hours=1), found=None,
                          summary="Raised in error: the child was at school."),
                  "responsible_action"),
    "rhi_outcome": (_rhi_notification(), "rhi_share"),
    # The host's copy for information: same episode, fewer details.
    "missing_reported_host_information": (MISSING, "host_information"),
    # No council child id known to police: the NHS number is the key offered.
    "missing_reported_nhs_only": (
        replace(MISSING, child=replace(CHILD, council_child_id=None)), "home_action"),
    # Neither id: name and date of birth; a child missing from home.
    "missing_reported_name_and_dob": (
        replace(MISSING, child=replace(CHILD, council_child_id=None, nhs_number=None),
                placement=Placement(PlacementType.HOME),
                risk=replace(RISK, grade=RiskGrade.NO_APPARENT_RISK, factors=())),
        "home_action"),
    # A trafficked UASC's information copy: whereabouts withheld (001 L276; 002 L544).
    "found_uasc_trafficked_host_information": (
        replace(MISSING, event=EventType.FOUND, revision=4, found=FOUND,
                child=replace(CHILD, uasc=True),
                risk=replace(RISK, factors=(RiskFactor.TRAFFICKING,)),
                parents_not_told=True), "host_information"),
    # Text that must be escaped everywhere, and extras that must never travel.
    "update_hostile_text": (
        replace(MISSING, event=EventType.UPDATE, revision=6,
                circumstances='Said "<script>alert(1)</script>" & left\nthrough the back door',
                summary="Tom & Jerry's <b>café</b> \x0b]]>",
                extra={"rhi_sensitive_notes": "NEVER-SHARE-7781",
                       "sensitive_health": "NEVER-SHARE-7782",
                       "care_plan_note": "Contact with mother supervised"}),
        "responsible_action"),
    # The RHI outcome shared back to the police force: no care plans.
    "rhi_outcome_police": (
        replace(_rhi_notification(), extra={**_rhi_notification().extra,
                                            "care_plan_summary": "NEVER-TO-POLICE-5501"}),
        "police_rhi_feedback"),
}


def adapters() -> dict[str, MosaicAdapter | LiquidlogicAdapter | SecureMailAdapter]:
    """Return one instance of each case-system adapter, by name."""
    return {"mosaic": MosaicAdapter(), "liquidlogic": LiquidlogicAdapter(),
            "secure_mail": SecureMailAdapter()}


def render_path(system: str, case: str) -> Path:
    """Return where the golden rendering of `case` for `system` lives."""
    return FIXTURES / system / "render" / f"{case}{SUFFIXES[system]}"


def summary_path(case: str) -> Path:
    """Return where the readable summary text of `case` lives (what every rendering carries)."""
    return FIXTURES / "secure_mail" / "summary" / f"{case}.txt"


def summary_of(case: str) -> str:
    """Return the summary text of `case`, as the secure mail carries it."""
    notification, profile = CASES[case]
    return summary_text(build_summary(minimise(notification_to_json(notification), profile),
                                      profile))


def inbound_cases(system: str, kind: str, *, invalid: bool = False) -> list[Path]:
    """Return the receipt (`receipts`) or RHI (`rhi`) files of one system."""
    folder = FIXTURES / system / kind / ("invalid" if invalid else "")
    return sorted(p for p in folder.glob("*") if p.is_file() and p.suffix in (".xml", ".json")
                  and not p.name.endswith((".expected.json", ".reasons.json")))


def expected_path(path: Path) -> Path:
    """Return the expected-output file beside an inbound fixture."""
    return path.with_name(path.stem + ".expected.json")


def reasons_path(path: Path) -> Path:
    """Return the expected-reasons file beside a malformed inbound fixture."""
    return path.with_name(path.stem + ".reasons.json")


def parse_inbound(system: str, kind: str, raw: bytes) -> dict[str, Any]:
    """Parse one inbound file and return its JSON form."""
    adapter = adapters()[system]
    if kind == "receipts":
        return receipt_to_json(adapter.parse_receipt(raw))
    return rhi_outcome_to_json(adapter.parse_rhi_outcome(raw))


def reasons_of(system: str, kind: str, raw: bytes) -> list[str]:
    """Parse a malformed inbound file and return its reasons (empty if it parsed)."""
    try:
        parse_inbound(system, kind, raw)
    except InvalidMessage as exc:
        return [str(e) for e in exc.errors]
    return []


def write_expected() -> None:
    """Write every expected file from the current adapters' output."""
    for system, adapter in adapters().items():
        for case, (notification, profile) in CASES.items():
            path = render_path(system, case)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(adapter.render(notification, profile).content)
            summary_path(case).parent.mkdir(parents=True, exist_ok=True)
            summary_path(case).write_text(summary_of(case), encoding="utf-8")
        for kind in ("receipts", "rhi"):
            for path in inbound_cases(system, kind):
                got = parse_inbound(system, kind, path.read_bytes())
                expected_path(path).write_text(
                    json.dumps(got, indent=2, ensure_ascii=False) + "\n", "utf-8")
            for path in inbound_cases(system, kind, invalid=True):
                reasons = reasons_of(system, kind, path.read_bytes())
                reasons_path(path).write_text(
                    json.dumps(reasons, indent=2, ensure_ascii=False) + "\n", "utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.unit.adapters.case_systems_cases --write")
    write_expected()
