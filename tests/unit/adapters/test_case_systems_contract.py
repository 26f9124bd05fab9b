"""One contract for every case-system adapter (and a fake): render, then what comes back.

A simulated council reads each rendered file, matches the child on the key it offers, and
writes its acknowledgement in the system's own format; parsing that must give back the
delivery id, the gateway reference and the match key the rendering offered.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest

from adapters.base import Rendered
from adapters.case_receipts import ImportedFile, PersonMatch, load_json_document, person_match
from adapters.liquidlogic import LiquidlogicAdapter
from adapters.mosaic import MosaicAdapter
from adapters.secure_mail import SecureMailAdapter
from gateway.domain.enums import EventType
from gateway.domain.errors import InvalidMessage
from gateway.domain.model import Notification
from gateway.domain.receipts import (
    SENSITIVE_WITHHELD,
    CaseSystemReceipt,
    GatewayReference,
    MatchKey,
    ReceiptStatus,
    RhiOutcome,
    receipt_from_json,
    receipt_to_json,
    rhi_outcome_from_json,
    rhi_outcome_notification,
    rhi_outcome_to_json,
)
from gateway.domain.schemas import notification_to_json
from routing.minimisation import minimise
from tests.unit.adapters.case_systems_cases import CASES, CHILD, RHI, T0


class CaseSystemPort(Protocol):
    """What every case-system adapter offers: the contract under test."""

    name: str

    def render(self, notification: Notification, profile: str) -> Rendered: ...
    def read_import(self, content: bytes) -> ImportedFile: ...
    def parse_receipt(self, raw: bytes) -> CaseSystemReceipt: ...
    def parse_rhi_outcome(self, raw: bytes) -> RhiOutcome: ...
    def write_receipt(self, receipt: CaseSystemReceipt,
                      source_file: str | None = None) -> bytes: ...
    def write_rhi_export(self, outcome: RhiOutcome, sensitive: str | None = None) -> bytes: ...


class FakeCaseSystem:
    """An in-memory case system speaking plain JSON, implementing the same port."""

    name = "fake"

    def render(self, notification: Notification, profile: str) -> Rendered:
        """Render the minimised notification with its match key, as JSON."""
        data = minimise(notification_to_json(notification), profile)
        match = person_match(data.get("child"))
        body = {"notification": data, "match": match.__dict__ if match else None}
        return Rendered(json.dumps(body, default=str).encode(), "application/json", ".json")

    def read_import(self, content: bytes) -> ImportedFile:
        """Read back the reference and offered key."""
        body = json.loads(content)
        data = body["notification"]
        match = body["match"]
        return ImportedFile(
            GatewayReference(data["force"], data["police_reference"], EventType(data["event"]),
                             data["revision"]),
            PersonMatch(**{**match, "key": MatchKey(match["key"])}) if match else None)

    def parse_receipt(self, raw: bytes) -> CaseSystemReceipt:
        """Parse a JSON receipt."""
        return receipt_from_json(load_json_document(raw), system=self.name)

    def parse_rhi_outcome(self, raw: bytes) -> RhiOutcome:
        """Parse a JSON RHI outcome (sensitive disclosures dropped)."""
        return rhi_outcome_from_json(load_json_document(raw), system=self.name)

    def write_receipt(self, receipt: CaseSystemReceipt, source_file: str | None = None) -> bytes:
        """Write a JSON receipt."""
        return json.dumps(receipt_to_json(receipt)).encode()

    def write_rhi_export(self, outcome: RhiOutcome, sensitive: str | None = None) -> bytes:
        """Write a JSON RHI outcome, with the disclosures a careless export includes."""
        data: dict[str, Any] = rhi_outcome_to_json(outcome)
        if sensitive:
            data["sensitive_disclosures"] = sensitive
        return json.dumps(data).encode()


@dataclass(frozen=True)
class PersonRecord:
    """One child in the simulated council's case system."""

    person_id: str
    council_child_id: str | None
    nhs_number: str | None
    given_name: str
    family_name: str
    date_of_birth: str


@dataclass
class SimulatedCouncil:
    """Reads delivered files as a council would and answers in the system's own format."""

    adapter: CaseSystemPort
    people: list[PersonRecord]
    rejects_with: tuple[str, ...] = ()

    def candidates(self, match: PersonMatch) -> list[PersonRecord]:
        """Return the people the offered key matches."""
        if match.key is MatchKey.COUNCIL_CHILD_ID:
            return [p for p in self.people if p.council_child_id == match.council_child_id]
        if match.key is MatchKey.NHS_NUMBER:
            return [p for p in self.people if p.nhs_number == match.nhs_number]
        return [p for p in self.people if (p.given_name, p.family_name, p.date_of_birth) == (
            match.given_name, match.family_name, match.date_of_birth)]

    def acknowledge(self, delivery_id: str, rendered: Rendered, file_suffix: str) -> bytes:
        """Import a delivered file and return the acknowledgement file written for it."""
        imported = self.adapter.read_import(rendered.content)
        at = datetime(2026, 3, 17, 22, 0, tzinfo=UTC)
        common: dict[str, Any] = {"system": self.adapter.name, "delivery_id": delivery_id,
                                  "at": at, "reference": imported.reference}
        if self.rejects_with:
            receipt = CaseSystemReceipt(status=ReceiptStatus.REJECTED, reasons=self.rejects_with,
                                        **common)
        else:
            assert imported.match is not None
            found = self.candidates(imported.match)
            if not found:
                receipt = CaseSystemReceipt(status=ReceiptStatus.NO_MATCH, **common)
            elif len(found) > 1:
                receipt = CaseSystemReceipt(status=ReceiptStatus.MULTIPLE_MATCHES,
                                            candidates=len(found), **common)
            else:
                receipt = CaseSystemReceipt(
                    status=ReceiptStatus.ACCEPTED, council_person_id=found[0].person_id,
                    council_episode_id=f"EP-{imported.reference.police_reference}",
                    matched_by=imported.match.key, **common)
        return self.adapter.write_receipt(receipt, f"{delivery_id}{file_suffix}")


AMELIA = PersonRecord("P-1048831", "KCC-204811", "9434765919", "Amelia", "Hart", "2011-06-02")
OTHERS = [PersonRecord("P-2", "KCC-1", "9000000001", "Amelia", "Hart", "2012-01-01"),
          PersonRecord("P-3", None, None, "Sam", "Jones", "2010-05-05")]
ADAPTERS: dict[str, Callable[[], CaseSystemPort]] = {
    "mosaic": MosaicAdapter, "liquidlogic": LiquidlogicAdapter,
    "secure_mail": SecureMailAdapter, "fake": FakeCaseSystem}
EVENT_CASES = ["missing_reported", "update", "risk_regraded", "found", "closed", "cancelled",
               "rhi_outcome"]


@pytest.fixture(params=sorted(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> CaseSystemPort:
    """Each adapter in turn."""
    return ADAPTERS[request.param]()


@pytest.mark.parametrize("case", EVENT_CASES)
def test_the_rendering_names_the_notification_it_came_from(adapter: CaseSystemPort,
                                                           case: str) -> None:
    notification, profile = CASES[case]
    imported = adapter.read_import(adapter.render(notification, profile).content)
    assert imported.reference == GatewayReference(notification.force,
                                                  notification.police_reference,
                                                  notification.event, notification.revision)


@pytest.mark.parametrize(("case", "key"), [
    ("missing_reported", MatchKey.COUNCIL_CHILD_ID),
    ("missing_reported_nhs_only", MatchKey.NHS_NUMBER),
    ("missing_reported_name_and_dob", MatchKey.NAME_AND_DATE_OF_BIRTH),
])
@pytest.mark.parametrize("suffix", [None, ".p7m"])
def test_acknowledgement_lines_up_with_the_delivery(adapter: CaseSystemPort, case: str,
                                                    key: MatchKey, suffix: str | None) -> None:
    notification, profile = CASES[case]
    rendered = adapter.render(notification, profile)
    delivery_id = str(uuid.uuid4())
    council = SimulatedCouncil(adapter, [AMELIA, OTHERS[1]])
    receipt = adapter.parse_receipt(council.acknowledge(delivery_id, rendered,
                                                        suffix or rendered.suffix))
    assert receipt.delivery_id == delivery_id
    assert receipt.system == adapter.name
    assert receipt.status is ReceiptStatus.ACCEPTED
    assert not receipt.needs_coordinator
    assert receipt.matched_by is key
    assert receipt.council_person_id == AMELIA.person_id
    assert receipt.council_episode_id == f"EP-{notification.police_reference}"
    assert receipt.reference is not None
    assert receipt.reference.police_reference == notification.police_reference
    assert receipt.reference.event is notification.event


def test_no_match_and_several_matches_need_a_coordinator(adapter: CaseSystemPort) -> None:
    notification, profile = CASES["missing_reported_name_and_dob"]
    rendered = adapter.render(notification, profile)
    nobody = SimulatedCouncil(adapter, OTHERS[1:])
    if adapter.name != "secure_mail":  # a person reading mail always finds someone to ask
        receipt = adapter.parse_receipt(nobody.acknowledge(str(uuid.uuid4()), rendered, ".x"))
        assert receipt.status is ReceiptStatus.NO_MATCH
        assert receipt.needs_coordinator
    twins = SimulatedCouncil(adapter, [AMELIA, replace(AMELIA, person_id="P-TWIN")])
    receipt = adapter.parse_receipt(twins.acknowledge(str(uuid.uuid4()), rendered, ".x"))
    assert receipt.status is ReceiptStatus.MULTIPLE_MATCHES
    assert receipt.needs_coordinator
    assert receipt.candidates == 2


def test_a_rejection_comes_back_with_its_reasons(adapter: CaseSystemPort) -> None:
    notification, profile = CASES["found"]
    council = SimulatedCouncil(adapter, [AMELIA], rejects_with=(
        "Episode already closed", "Team EDT cannot take work steps"))
    receipt = adapter.parse_receipt(council.acknowledge(str(uuid.uuid4()),
                                                        adapter.render(notification, profile),
                                                        ".xml"))
    assert receipt.status is ReceiptStatus.REJECTED
    assert receipt.needs_coordinator
    assert receipt.reasons == ("Episode already closed", "Team EDT cannot take work steps")


def test_rhi_outcome_comes_back_without_its_disclosures_and_shares_onward(
        adapter: CaseSystemPort) -> None:
    outcome = replace(RHI, system=adapter.name,
                      reference=GatewayReference("warwickshire-police", "WK-MP-2026-000417"),
                      council_episode_id="EP-WK-MP-2026-000417")
    export = adapter.write_rhi_export(outcome, sensitive="DISCLOSED-ABUSE-DETAIL")
    parsed = adapter.parse_rhi_outcome(export)
    assert parsed == replace(outcome, withheld=(SENSITIVE_WITHHELD,))
    assert parsed.reference is not None
    shared = rhi_outcome_notification(parsed, force=parsed.reference.force,
                                      police_reference=parsed.reference.police_reference,
                                      occurred_at=T0, child=CHILD)
    for profile in ("police_rhi_feedback", "rhi_share", "iro"):
        content = adapter.render(shared, profile).content
        assert b"DISCLOSED-ABUSE-DETAIL" not in content
        imported = adapter.read_import(content)
        assert imported.reference.police_reference == "WK-MP-2026-000417"


JSON_SYSTEMS = {"secure_mail", "fake"}  # both read the gateway's own JSON receipt form


def test_a_receipt_in_another_systems_format_is_refused(adapter: CaseSystemPort) -> None:
    receipt = CaseSystemReceipt("x", str(uuid.uuid4()), ReceiptStatus.RECEIVED,
                                datetime(2026, 3, 17, tzinfo=UTC))
    for name, other in ADAPTERS.items():
        if name == adapter.name or {name, adapter.name} <= JSON_SYSTEMS:
            continue
        with pytest.raises(InvalidMessage):
            adapter.parse_receipt(other().write_receipt(receipt))
