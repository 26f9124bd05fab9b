"""What a Mosaic council writes back: import results (receipts) and RHI form exports.

`parse_receipt` and `parse_rhi_outcome` read them (hardened XML, then mosaic_result.xsd,
then the shared consistency rules); `write_receipt` and `write_rhi_export` write them, for
the council simulator and the round-trip tests: each pair is the other's inverse.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from adapters.case_receipts import (
    AckReader,
    XsdValidator,
    add,
    read_document,
    rename_fields,
    to_bytes,
)
from gateway.domain.enums import EventType
from gateway.domain.errors import FieldError, InvalidMessage
from gateway.domain.receipts import (
    SENSITIVE_WITHHELD,
    CaseSystemReceipt,
    ContactMethod,
    GatewayReference,
    MatchKey,
    ReceiptStatus,
    RhiAttempt,
    RhiOutcome,
    RhiStatus,
    YesNoNa,
    delivery_id_from_filename,
    receipt_problems,
    rhi_outcome_problems,
)

SYSTEM = "mosaic"
RESULT_ROOT = "MosaicImportResult"
EXPORT_ROOT = "MosaicFormExport"
VALIDATOR = XsdValidator(Path(__file__).with_name("mosaic_result.xsd"))

OUTCOMES = {"QUEUED": ReceiptStatus.RECEIVED, "IMPORTED": ReceiptStatus.ACCEPTED,
            "FAILED": ReceiptStatus.REJECTED, "NO_PERSON_MATCH": ReceiptStatus.NO_MATCH,
            "MULTIPLE_PERSON_MATCHES": ReceiptStatus.MULTIPLE_MATCHES}
MATCHED_ON = {"LA_CHILD_ID": MatchKey.COUNCIL_CHILD_ID, "NHS_NUMBER": MatchKey.NHS_NUMBER,
              "NAME_DOB": MatchKey.NAME_AND_DATE_OF_BIRTH}
STATUSES = {s.value: s for s in RhiStatus}
ANSWERS = {a.value: a for a in YesNoNa}
METHODS = {m.value: m for m in ContactMethod}

RECEIPT_FIELDS = {"delivery_id": "SourceFile", "at": "ProcessedAt",
                  "council_person_id": "Person/@mosaicPersonId",
                  "matched_by": "Person/@matchedOn", "council_episode_id": "WorkStep/@workStepId",
                  "candidates": "Candidates/@count", "reasons": "Error"}
RHI_FIELDS = {"reference": "ExternalReference", "status": "Interview/Status",
              "offered": "Interview/Offered", "accepted": "Interview/Accepted",
              "offered_on": "Interview/OfferedDate", "completed_on": "Interview/CompletedDate"}


def _reference(reader: AckReader) -> GatewayReference | None:
    """Read the ExternalReference the council echoes (the notification key it imported)."""
    force = reader.text("ExternalReference/@force")
    police_reference = reader.text("ExternalReference/@policeReference")
    if not force or not police_reference:
        return None
    event = reader.text("ExternalReference/@event")
    known = {e.value: e for e in EventType}
    if event is not None and event not in known:
        reader.errors.append(FieldError("ExternalReference/@event", "is not a gateway event",
                                        event))
    revision = reader.integer("ExternalReference/@revision")
    return GatewayReference(force, police_reference, known.get(event or ""), revision)


def parse_receipt(raw: bytes) -> CaseSystemReceipt:
    """Parse one MosaicImportResult file; raise InvalidMessage listing every reason."""
    reader = read_document(raw, (RESULT_ROOT,), VALIDATOR)
    source = reader.text("SourceFile", required=True) or ""
    delivery_id = delivery_id_from_filename(source)
    if delivery_id is None:
        reader.errors.append(FieldError("SourceFile", "does not name a gateway delivery "
                                        "(expected <delivery id>.<suffix>)", source))
    status = reader.code("Outcome", OUTCOMES, required=True)
    at = reader.timestamp("ProcessedAt", required=True)
    reference = _reference(reader)
    reasons = [f"{e.get('code')}: {(e.text or '').strip()}" if e.get("code")
               else (e.text or "").strip() for e in reader.root.findall("Error")]
    receipt = None
    if not reader.errors and status is not None and at is not None and delivery_id:
        receipt = CaseSystemReceipt(
            system=SYSTEM, delivery_id=delivery_id, status=status, at=at, reference=reference,
            council_person_id=reader.text("Person/@mosaicPersonId"),
            matched_by=reader.code("Person/@matchedOn", MATCHED_ON),
            council_episode_id=reader.text("WorkStep/@workStepId"),
            candidates=reader.integer("Candidates/@count"), reasons=tuple(reasons))
        reader.errors.extend(rename_fields(receipt_problems(receipt), RECEIPT_FIELDS))
    if reader.errors or receipt is None:
        raise InvalidMessage(reader.errors or [FieldError("document", "could not be read")])
    return receipt


def parse_rhi_outcome(raw: bytes) -> RhiOutcome:
    """Parse one RHI form export; sensitive disclosures are dropped and recorded as withheld."""
    reader = read_document(raw, (EXPORT_ROOT,), VALIDATOR)
    status = reader.code("Interview/Status", STATUSES, required=True)
    offered = reader.code("Interview/Offered", ANSWERS, required=True)
    accepted = reader.code("Interview/Accepted", ANSWERS, required=True)
    attempts = []
    for i in range(1, len(reader.root.findall("Interview/Attempt")) + 1):
        path = f"Interview/Attempt[{i}]"
        at = reader.timestamp(f"{path}/@at", required=True)
        method = reader.code(f"{path}/@method", METHODS, required=True)
        reached = reader.flag(f"{path}/@reached", required=True)
        if at is not None and method is not None and reached is not None:
            attempts.append(RhiAttempt(at, method, bool(reached)))
    withheld = (SENSITIVE_WITHHELD,) if _has_content(
        reader.root.find("Interview/SensitiveDisclosures")) else ()
    outcome = None
    if status is not None and offered is not None and accepted is not None:
        outcome = RhiOutcome(
            system=SYSTEM, status=status, offered=offered, accepted=accepted,
            reference=_reference(reader),
            council_person_id=reader.text("Person/@mosaicPersonId"),
            council_episode_id=reader.text("WorkStep/@workStepId"),
            offered_on=reader.day("Interview/OfferedDate"), attempts=tuple(attempts),
            completed_on=reader.day("Interview/CompletedDate"),
            completed_by=reader.text("Interview/CompletedBy"),
            late_reason=reader.text("Interview/LateReason"),
            summary=reader.text("Interview/ShareableSummary"), withheld=withheld)
        if not reader.errors:
            reader.errors.extend(rename_fields(rhi_outcome_problems(outcome), RHI_FIELDS))
    if reader.errors or outcome is None:
        raise InvalidMessage(reader.errors or [FieldError("document", "could not be read")])
    return outcome


def _has_content(element: etree._Element | None) -> bool:
    """Say whether an element holds any text or child at all (without reading it out)."""
    if element is None:
        return False
    return len(element) > 0 or any(str(text).strip() for text in element.itertext())


def _add_reference(root: etree._Element, reference: GatewayReference | None) -> None:
    if reference is not None:
        add(root, "ExternalReference", force=reference.force,
            policeReference=reference.police_reference, event=reference.event,
            revision=reference.revision)


def write_receipt(receipt: CaseSystemReceipt, source_file: str | None = None) -> bytes:
    """Write the MosaicImportResult a Mosaic council would for `receipt` (council side)."""
    root = etree.Element(RESULT_ROOT, formatVersion="1.0")
    add(root, "SourceFile", source_file or f"{receipt.delivery_id}.mosaic.xml")
    _add_reference(root, receipt.reference)
    add(root, "Outcome", {v: k for k, v in OUTCOMES.items()}[receipt.status])
    add(root, "ProcessedAt", receipt.at.isoformat())
    if receipt.council_person_id and receipt.matched_by:
        add(root, "Person", mosaicPersonId=receipt.council_person_id,
            matchedOn={v: k for k, v in MATCHED_ON.items()}[receipt.matched_by])
    if receipt.council_episode_id:
        add(root, "WorkStep", workStepId=receipt.council_episode_id)
    if receipt.candidates is not None:
        add(root, "Candidates", count=receipt.candidates)
    for reason in receipt.reasons:
        add(root, "Error", reason)
    return to_bytes(root)


def write_rhi_export(outcome: RhiOutcome, sensitive: str | None = None) -> bytes:
    """Write the RHI form export a Mosaic council would (council side), with its disclosures."""
    root = etree.Element(EXPORT_ROOT, formatVersion="1.0", formType="RETURN_HOME_INTERVIEW")
    _add_reference(root, outcome.reference)
    if outcome.council_person_id:
        add(root, "Person", mosaicPersonId=outcome.council_person_id)
    if outcome.council_episode_id:
        add(root, "WorkStep", workStepId=outcome.council_episode_id)
    interview = add(root, "Interview")
    add(interview, "Status", outcome.status)
    add(interview, "Offered", outcome.offered)
    add(interview, "Accepted", outcome.accepted)
    if outcome.offered_on:
        add(interview, "OfferedDate", outcome.offered_on.isoformat())
    for attempt in outcome.attempts:
        add(interview, "Attempt", at=attempt.at.isoformat(), method=attempt.method,
            reached=attempt.successful)
    for tag, value in (("CompletedDate", outcome.completed_on and
                        outcome.completed_on.isoformat()),
                       ("CompletedBy", outcome.completed_by), ("LateReason", outcome.late_reason),
                       ("ShareableSummary", outcome.summary), ("SensitiveDisclosures", sensitive)):
        if value:
            add(interview, tag, value)
    return to_bytes(root)
