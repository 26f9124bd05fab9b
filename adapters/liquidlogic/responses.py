"""What a Liquidlogic LCS council writes back: feed responses (receipts) and RHI exports.

`parse_receipt` and `parse_rhi_outcome` read them (hardened XML, then
liquidlogic_response.xsd, then the shared consistency rules); `write_receipt` and
`write_rhi_export` write them for the council simulator and the round-trip tests.
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

SYSTEM = "liquidlogic"
RESPONSE_ROOT = "LcsFeedResponse"
EXPORT_ROOT = "LcsReturnInterview"
VALIDATOR = XsdValidator(Path(__file__).with_name("liquidlogic_response.xsd"))

RESULTS = {"Received": ReceiptStatus.RECEIVED, "Loaded": ReceiptStatus.ACCEPTED,
           "Rejected": ReceiptStatus.REJECTED, "NoMatch": ReceiptStatus.NO_MATCH,
           "MultipleMatch": ReceiptStatus.MULTIPLE_MATCHES}
MATCHED_BY = {"LCS_ID": MatchKey.COUNCIL_CHILD_ID, "NHS": MatchKey.NHS_NUMBER,
              "NAME_DOB": MatchKey.NAME_AND_DATE_OF_BIRTH}
STATUSES = {"Offered": RhiStatus.OFFERED, "Completed": RhiStatus.COMPLETED,
            "Declined": RhiStatus.DECLINED, "NotPossible": RhiStatus.NOT_POSSIBLE}
ANSWERS = {"Yes": YesNoNa.YES, "No": YesNoNa.NO, "NA": YesNoNa.NA}
METHODS = {"Phone": ContactMethod.PHONE, "Letter": ContactMethod.LETTER,
           "Visit": ContactMethod.VISIT, "Other": ContactMethod.OTHER}
SUCCESS = {"Yes": True, "No": False}
WARNING_PREFIX = "warning: "

RECEIPT_FIELDS = {"delivery_id": "FeedFile", "at": "Timestamp",
                  "council_person_id": "LcsPersonId", "matched_by": "LcsPersonId/@matchedBy",
                  "council_episode_id": "MissingEpisodeId", "candidates": "MatchCount",
                  "reasons": "Message"}
RHI_FIELDS = {"reference": "SourceRef", "status": "RhiStatus", "offered": "RhiOffered",
              "accepted": "RhiAccepted", "offered_on": "OfferedDate",
              "completed_on": "CompletedDate"}


def _reference(reader: AckReader) -> GatewayReference | None:
    """Read the SourceRef the council keeps (the notification key it loaded)."""
    force, ref = reader.text("SourceRef/@force"), reader.text("SourceRef/@ref")
    if not force or not ref:
        return None
    known = {e.value: e for e in EventType}
    event = reader.text("SourceRef/@event")
    if event is not None and event not in known:
        reader.errors.append(FieldError("SourceRef/@event", "is not a gateway event", event))
    return GatewayReference(force, ref, known.get(event or ""),
                            reader.integer("SourceRef/@revision"))


def _reasons(root: etree._Element) -> tuple[str, ...]:
    """Return the messages: errors as they are, warnings marked as such."""
    reasons = []
    for message in root.findall("Message"):
        text = (message.text or "").strip()
        reasons.append(WARNING_PREFIX + text if message.get("severity") == "Warning" else text)
    return tuple(reasons)


def parse_receipt(raw: bytes) -> CaseSystemReceipt:
    """Parse one LcsFeedResponse file; raise InvalidMessage listing every reason."""
    reader = read_document(raw, (RESPONSE_ROOT,), VALIDATOR)
    feed_file = reader.text("FeedFile", required=True) or ""
    delivery_id = delivery_id_from_filename(feed_file)
    if delivery_id is None:
        reader.errors.append(FieldError("FeedFile", "does not name a gateway delivery "
                                        "(expected <delivery id>.<suffix>)", feed_file))
    status = reader.code("Result", RESULTS, required=True)
    at = reader.timestamp("Timestamp", required=True)
    reference = _reference(reader)
    receipt = None
    if not reader.errors and status is not None and at is not None and delivery_id:
        receipt = CaseSystemReceipt(
            system=SYSTEM, delivery_id=delivery_id, status=status, at=at, reference=reference,
            council_person_id=reader.text("LcsPersonId"),
            matched_by=reader.code("LcsPersonId/@matchedBy", MATCHED_BY),
            council_episode_id=reader.text("MissingEpisodeId"),
            candidates=reader.integer("MatchCount"), reasons=_reasons(reader.root))
        reader.errors.extend(rename_fields(receipt_problems(receipt), RECEIPT_FIELDS))
    if reader.errors or receipt is None:
        raise InvalidMessage(reader.errors or [FieldError("document", "could not be read")])
    return receipt


def parse_rhi_outcome(raw: bytes) -> RhiOutcome:
    """Parse one LcsReturnInterview export; confidential notes are dropped as withheld."""
    reader = read_document(raw, (EXPORT_ROOT,), VALIDATOR)
    status = reader.code("RhiStatus", STATUSES, required=True)
    offered = reader.code("RhiOffered", ANSWERS, required=True)
    accepted = reader.code("RhiAccepted", ANSWERS, required=True)
    attempts = []
    for i in range(1, len(reader.root.findall("ContactAttempt")) + 1):
        path = f"ContactAttempt[{i}]"
        at = reader.timestamp(f"{path}/@date", required=True)
        method = reader.code(f"{path}/@method", METHODS, required=True)
        successful = reader.text(f"{path}/@successful", required=True)
        if at is not None and method is not None and successful in SUCCESS:
            attempts.append(RhiAttempt(at, method, SUCCESS[successful or ""]))
    notes = reader.root.findall("ConfidentialNote")
    withheld = (SENSITIVE_WITHHELD,) if any(
        len(n) or any(str(t).strip() for t in n.itertext()) for n in notes) else ()
    outcome = None
    if status is not None and offered is not None and accepted is not None:
        outcome = RhiOutcome(
            system=SYSTEM, status=status, offered=offered, accepted=accepted,
            reference=_reference(reader), council_person_id=reader.text("LcsPersonId"),
            council_episode_id=reader.text("MissingEpisodeId"),
            offered_on=reader.day("OfferedDate"), attempts=tuple(attempts),
            completed_on=reader.day("CompletedDate"), completed_by=reader.text("CompletedBy"),
            late_reason=reader.text("LateReason"), summary=reader.text("ShareableSummary"),
            withheld=withheld)
        if not reader.errors:
            reader.errors.extend(rename_fields(rhi_outcome_problems(outcome), RHI_FIELDS))
    if reader.errors or outcome is None:
        raise InvalidMessage(reader.errors or [FieldError("document", "could not be read")])
    return outcome


def _add_reference(root: etree._Element, reference: GatewayReference | None) -> None:
    if reference is not None:
        add(root, "SourceRef", force=reference.force, ref=reference.police_reference,
            event=reference.event, revision=reference.revision)


def write_receipt(receipt: CaseSystemReceipt, source_file: str | None = None) -> bytes:
    """Write the LcsFeedResponse an LCS council would for `receipt` (council side)."""
    root = etree.Element(RESPONSE_ROOT, version="1.0")
    add(root, "FeedFile", source_file or f"{receipt.delivery_id}.lcs.xml")
    _add_reference(root, receipt.reference)
    add(root, "Result", {v: k for k, v in RESULTS.items()}[receipt.status])
    add(root, "Timestamp", receipt.at.isoformat())
    if receipt.council_person_id and receipt.matched_by:
        add(root, "LcsPersonId", receipt.council_person_id,
            matchedBy={v: k for k, v in MATCHED_BY.items()}[receipt.matched_by])
    if receipt.council_episode_id:
        add(root, "MissingEpisodeId", receipt.council_episode_id)
    if receipt.candidates is not None:
        add(root, "MatchCount", receipt.candidates)
    for reason in receipt.reasons:
        if reason.startswith(WARNING_PREFIX):
            add(root, "Message", reason[len(WARNING_PREFIX):], severity="Warning")
        else:
            add(root, "Message", reason, severity="Error")
    return to_bytes(root)


def write_rhi_export(outcome: RhiOutcome, sensitive: str | None = None) -> bytes:
    """Write the RHI export an LCS council would (council side), with its confidential note."""
    root = etree.Element(EXPORT_ROOT, version="1.0")
    _add_reference(root, outcome.reference)
    if outcome.council_person_id:
        add(root, "LcsPersonId", outcome.council_person_id)
    if outcome.council_episode_id:
        add(root, "MissingEpisodeId", outcome.council_episode_id)
    add(root, "RhiStatus", {v: k for k, v in STATUSES.items()}[outcome.status])
    add(root, "RhiOffered", {v: k for k, v in ANSWERS.items()}[outcome.offered])
    add(root, "RhiAccepted", {v: k for k, v in ANSWERS.items()}[outcome.accepted])
    if outcome.offered_on:
        add(root, "OfferedDate", outcome.offered_on.isoformat())
    for attempt in outcome.attempts:
        add(root, "ContactAttempt", date=attempt.at.isoformat(),
            method={v: k for k, v in METHODS.items()}[attempt.method],
            successful="Yes" if attempt.successful else "No")
    for tag, value in (("CompletedDate", outcome.completed_on and
                        outcome.completed_on.isoformat()),
                       ("CompletedBy", outcome.completed_by), ("LateReason", outcome.late_reason),
                       ("ShareableSummary", outcome.summary), ("ConfidentialNote", sensitive)):
        if value:
            add(root, tag, value)
    return to_bytes(root)
