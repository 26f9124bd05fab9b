"""What councils' case systems send back: delivery receipts and Return Home Interview outcomes.

Both are parsed from each system's own files by its adapter (adapters/mosaic, liquidlogic,
secure_mail) or loaded from the JSON forms below (`POST /api/v1/acks`, `POST /api/v1/rhi`).
Every form ends in the same value objects, checked by the same rules (`receipt_problems`,
`rhi_outcome_problems`), so a receipt means the same whichever way it arrived.

RHI *sensitive disclosures* never leave the council (000 §8.11; 002 L396; 003 L525): no field
here can hold them. A parser that meets them drops them and says so in `RhiOutcome.withheld`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from gateway.domain.enums import EventType
from gateway.domain.errors import FieldError, InvalidMessage
from gateway.domain.model import Child, Notification
from gateway.domain.routing import CoordinatorItem
from gateway.domain.schemas import flatten_validation_errors

SENSITIVE_WITHHELD = (
    "sensitive disclosures withheld: they never leave the council (000 §8.11; 002 L396)"
)


class MatchKey(StrEnum):
    """Which person key a case system matched on, strongest first (issue 6 §2)."""

    COUNCIL_CHILD_ID = "COUNCIL_CHILD_ID"
    NHS_NUMBER = "NHS_NUMBER"
    NAME_AND_DATE_OF_BIRTH = "NAME_AND_DATE_OF_BIRTH"


class ReceiptStatus(StrEnum):
    """What a case system says it did with one delivered file."""

    RECEIVED = "RECEIVED"  # picked up, not yet processed
    ACCEPTED = "ACCEPTED"  # imported against a person and an episode
    REJECTED = "REJECTED"  # refused, with reasons
    NO_MATCH = "NO_MATCH"  # no person matched the keys offered
    MULTIPLE_MATCHES = "MULTIPLE_MATCHES"  # more than one person matched


NEEDS_COORDINATOR = frozenset(
    {ReceiptStatus.REJECTED, ReceiptStatus.NO_MATCH, ReceiptStatus.MULTIPLE_MATCHES}
)


class RhiStatus(StrEnum):
    """Where a Return Home Interview stands (DOMAIN.md §5 life cycle, after `due`)."""

    OFFERED = "OFFERED"
    COMPLETED = "COMPLETED"
    DECLINED = "DECLINED"
    NOT_POSSIBLE = "NOT_POSSIBLE"


class YesNoNa(StrEnum):
    """The Y / N / NA answer of Ofsted Annex A and the DfE SSDA903 return."""

    YES = "Y"
    NO = "N"
    NA = "NA"


class ContactMethod(StrEnum):
    """How the RHI service tried to reach the child."""

    PHONE = "PHONE"
    LETTER = "LETTER"
    VISIT = "VISIT"
    OTHER = "OTHER"


@dataclass(frozen=True)
class GatewayReference:
    """The gateway's name for what a file was about: the notification key it was rendered from."""

    force: str
    police_reference: str
    event: EventType | None = None
    revision: int | None = None


@dataclass(frozen=True)
class CaseSystemReceipt:
    """One case system's acknowledgement of one delivered file (named by its delivery id)."""

    system: str
    delivery_id: str
    status: ReceiptStatus
    at: datetime
    reference: GatewayReference | None = None
    council_episode_id: str | None = None
    council_person_id: str | None = None
    matched_by: MatchKey | None = None
    candidates: int | None = None
    reasons: tuple[str, ...] = ()

    @property
    def needs_coordinator(self) -> bool:
        """Say whether a person must act: a rejection, no match or several matches."""
        return self.status in NEEDS_COORDINATOR


@dataclass(frozen=True)
class RhiAttempt:
    """One attempt to reach the child for an interview."""

    at: datetime
    method: ContactMethod
    successful: bool = False


@dataclass(frozen=True)
class RhiOutcome:
    """A council's Return Home Interview result, as far as it may be shared."""

    system: str
    status: RhiStatus
    offered: YesNoNa
    accepted: YesNoNa
    reference: GatewayReference | None = None
    council_episode_id: str | None = None
    council_person_id: str | None = None
    offered_on: date | None = None
    attempts: tuple[RhiAttempt, ...] = ()
    completed_on: date | None = None
    completed_by: str | None = None
    late_reason: str | None = None
    summary: str | None = None  # the shareable summary only
    withheld: tuple[str, ...] = ()


def ack_stage(receipt: CaseSystemReceipt) -> str:
    """Return the acknowledgement stage a receipt proves: `accepted`, else `received`.

    Every receipt proves the file arrived; only an acceptance proves it was imported.
    """
    return "accepted" if receipt.status is ReceiptStatus.ACCEPTED else "received"


_ITEM_KINDS = {ReceiptStatus.REJECTED: ("case_system_rejected", "rejected the copy"),
               ReceiptStatus.NO_MATCH: ("case_system_no_match",
                                        "found no person matching the copy"),
               ReceiptStatus.MULTIPLE_MATCHES: ("case_system_several_matches",
                                                "found several people matching the copy")}


def receipt_item(receipt: CaseSystemReceipt, authority: str | None) -> CoordinatorItem | None:
    """Return the coordinator item a receipt calls for (rejection, no match, several), if any."""
    found = _ITEM_KINDS.get(receipt.status)
    if found is None:
        return None
    kind, what = found
    message = f"{receipt.system} at {authority or 'the council'} {what} " \
              f"(delivery {receipt.delivery_id})"
    if receipt.candidates:
        message += f": {receipt.candidates} candidates"
    if receipt.reasons:
        message += ": " + "; ".join(receipt.reasons)
    return CoordinatorItem(kind=kind, message=message, authority=authority)


def delivery_id_from_filename(name: str) -> str | None:
    """Return the delivery id a delivered file's name carries (`<uuid>.<suffix>...`), or None."""
    stem = name.strip().replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]
    try:
        return str(uuid.UUID(stem))
    except ValueError:
        return None


def receipt_problems(receipt: CaseSystemReceipt) -> list[FieldError]:
    """Return what makes a receipt inconsistent (the rules every receipt form shares)."""
    problems: list[FieldError] = []
    if delivery_id_from_filename(receipt.delivery_id) != receipt.delivery_id:
        problems.append(FieldError("delivery_id", "is not a gateway delivery id (a UUID)",
                                   receipt.delivery_id))
    if receipt.at.tzinfo is None:
        problems.append(FieldError("at", "must carry a UTC offset", receipt.at.isoformat()))
    if receipt.status is ReceiptStatus.ACCEPTED:
        for name in ("council_episode_id", "council_person_id", "matched_by"):
            if not getattr(receipt, name):
                problems.append(FieldError(name, "is required when the file was accepted"))
    if receipt.status is ReceiptStatus.REJECTED and not receipt.reasons:
        problems.append(FieldError("reasons", "a rejection must give at least one reason"))
    if receipt.candidates is not None:
        if receipt.status is not ReceiptStatus.MULTIPLE_MATCHES:
            problems.append(FieldError("candidates", "is only given for several matches",
                                       str(receipt.candidates)))
        elif receipt.candidates < 2:
            problems.append(FieldError("candidates", "several matches means at least 2",
                                       str(receipt.candidates)))
    return problems


def rhi_outcome_problems(outcome: RhiOutcome) -> list[FieldError]:
    """Return what makes an RHI outcome inconsistent (the rules every RHI form shares)."""
    problems: list[FieldError] = []
    if outcome.reference is None and not outcome.council_episode_id:
        problems.append(FieldError(
            "reference", "name the police reference or the council's episode id"))
    if outcome.offered is YesNoNa.NO and outcome.accepted is not YesNoNa.NA:
        problems.append(FieldError("accepted", "must be NA when the interview was not offered",
                                   outcome.accepted.value))
    if outcome.status is RhiStatus.COMPLETED:
        if outcome.accepted is not YesNoNa.YES:
            problems.append(FieldError("accepted", "must be Y for a completed interview",
                                       outcome.accepted.value))
        if outcome.completed_on is None:
            problems.append(FieldError("completed_on", "is required for a completed interview"))
    elif outcome.completed_on is not None:
        problems.append(FieldError("completed_on", "is only given for a completed interview",
                                   outcome.completed_on.isoformat()))
    if outcome.status is RhiStatus.DECLINED and outcome.accepted is not YesNoNa.NO:
        problems.append(FieldError("accepted", "must be N for a declined interview",
                                   outcome.accepted.value))
    if outcome.status in (RhiStatus.OFFERED, RhiStatus.DECLINED, RhiStatus.COMPLETED) and (
        outcome.offered is not YesNoNa.YES
    ):
        problems.append(FieldError("offered", f"must be Y when the interview is "
                                   f"{outcome.status.value.lower()}", outcome.offered.value))
    if (outcome.offered_on and outcome.completed_on
            and outcome.completed_on < outcome.offered_on):
        problems.append(FieldError("completed_on", "is before the date it was offered",
                                   outcome.completed_on.isoformat()))
    for i, attempt in enumerate(outcome.attempts):
        if attempt.at.tzinfo is None:
            problems.append(FieldError(f"attempts.{i}.at", "must carry a UTC offset",
                                       attempt.at.isoformat()))
    return problems


# Keys an RHI_OUTCOME notification carries in `extra` (the canonical model has no RHI fields).
RHI_EXTRA_PREFIX = "rhi_"
RHI_EXTRA_KEYS = ("rhi_status", "rhi_offered", "rhi_accepted", "rhi_offered_on", "rhi_attempts",
                  "rhi_completed_on", "rhi_completed_by", "rhi_late_reason", "rhi_withheld")


def rhi_outcome_extra(outcome: RhiOutcome) -> dict[str, str]:
    """Return the `extra` entries that carry an RHI outcome on an RHI_OUTCOME notification."""
    extra = {"rhi_status": outcome.status.value, "rhi_offered": outcome.offered.value,
             "rhi_accepted": outcome.accepted.value}
    if outcome.offered_on:
        extra["rhi_offered_on"] = outcome.offered_on.isoformat()
    if outcome.attempts:
        extra["rhi_attempts"] = "; ".join(
            f"{a.at.isoformat()} {a.method.value.lower()} "
            f"{'reached' if a.successful else 'not reached'}" for a in outcome.attempts)
    if outcome.completed_on:
        extra["rhi_completed_on"] = outcome.completed_on.isoformat()
    if outcome.completed_by:
        extra["rhi_completed_by"] = outcome.completed_by
    if outcome.late_reason:
        extra["rhi_late_reason"] = outcome.late_reason
    if outcome.withheld:
        extra["rhi_withheld"] = "; ".join(outcome.withheld)
    return extra


def rhi_outcome_notification(outcome: RhiOutcome, *, force: str, police_reference: str,
                             occurred_at: datetime, revision: int = 1,
                             child: Child | None = None) -> Notification:
    """Build the RHI_OUTCOME notification that shares `outcome` (routing then minimises it)."""
    return Notification(event=EventType.RHI_OUTCOME, force=force,
                        police_reference=police_reference, occurred_at=occurred_at,
                        revision=revision, child=child, summary=outcome.summary,
                        extra=rhi_outcome_extra(outcome))


# ---------------------------------------------------------------------------------------------
# JSON forms (POST /api/v1/acks and POST /api/v1/rhi): strict, unknown keys are errors.


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class GatewayReferenceSchema(_Strict):
    """JSON form of a GatewayReference."""

    force = fields.String(required=True, validate=validate.Length(min=1, max=64))
    police_reference = fields.String(required=True, validate=validate.Length(min=1, max=64))
    event = fields.Enum(EventType, by_value=True, allow_none=True, load_default=None)
    revision = fields.Integer(allow_none=True, load_default=None,
                              validate=validate.Range(min=1))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> GatewayReference:
        """Build the value object."""
        return GatewayReference(**data)


class CaseSystemReceiptSchema(_Strict):
    """JSON form of a CaseSystemReceipt."""

    system = fields.String(required=True, validate=validate.Length(min=1, max=64))
    delivery_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    status = fields.Enum(ReceiptStatus, by_value=True, required=True)
    at = fields.AwareDateTime(required=True)
    reference = fields.Nested(GatewayReferenceSchema, allow_none=True, load_default=None)
    council_episode_id = fields.String(allow_none=True, load_default=None,
                                       validate=validate.Length(min=1, max=64))
    council_person_id = fields.String(allow_none=True, load_default=None,
                                      validate=validate.Length(min=1, max=64))
    matched_by = fields.Enum(MatchKey, by_value=True, allow_none=True, load_default=None)
    candidates = fields.Integer(allow_none=True, load_default=None)
    reasons = fields.List(fields.String(validate=validate.Length(min=1, max=2000)),
                          load_default=list)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CaseSystemReceipt:
        """Build the value object."""
        return CaseSystemReceipt(**{**data, "reasons": tuple(data["reasons"])})


class RhiAttemptSchema(_Strict):
    """JSON form of an RhiAttempt."""

    at = fields.AwareDateTime(required=True)
    method = fields.Enum(ContactMethod, by_value=True, required=True)
    successful = fields.Boolean(load_default=False)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RhiAttempt:
        """Build the value object."""
        return RhiAttempt(**data)


class RhiOutcomeSchema(_Strict):
    """JSON form of an RhiOutcome; `sensitive_disclosures` is accepted only to be dropped."""

    system = fields.String(load_default="api", validate=validate.Length(min=1, max=64))
    status = fields.Enum(RhiStatus, by_value=True, required=True)
    offered = fields.Enum(YesNoNa, by_value=True, required=True)
    accepted = fields.Enum(YesNoNa, by_value=True, required=True)
    reference = fields.Nested(GatewayReferenceSchema, allow_none=True, load_default=None)
    council_episode_id = fields.String(allow_none=True, load_default=None,
                                       validate=validate.Length(min=1, max=64))
    council_person_id = fields.String(allow_none=True, load_default=None,
                                      validate=validate.Length(min=1, max=64))
    offered_on = fields.Date(allow_none=True, load_default=None)
    attempts = fields.List(fields.Nested(RhiAttemptSchema), load_default=list)
    completed_on = fields.Date(allow_none=True, load_default=None)
    completed_by = fields.String(allow_none=True, load_default=None,
                                 validate=validate.Length(max=200))
    late_reason = fields.String(allow_none=True, load_default=None,
                                validate=validate.Length(max=2000))
    summary = fields.String(allow_none=True, load_default=None,
                            validate=validate.Length(max=20000))
    withheld = fields.List(fields.String(), load_default=list)
    # Accepted so that a council's export posted whole is not refused, but never kept.
    sensitive_disclosures = fields.Raw(load_only=True, load_default=None)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RhiOutcome:
        """Build the value object, dropping any sensitive disclosures and saying so."""
        sensitive = data.pop("sensitive_disclosures", None)
        withheld = list(data["withheld"])
        if sensitive not in (None, "", [], {}) and SENSITIVE_WITHHELD not in withheld:
            withheld.append(SENSITIVE_WITHHELD)
        return RhiOutcome(**{**data, "attempts": tuple(data["attempts"]),
                             "withheld": tuple(withheld)})


_RECEIPT_SCHEMA = CaseSystemReceiptSchema()
_RHI_SCHEMA = RhiOutcomeSchema()


def receipt_to_json(receipt: CaseSystemReceipt) -> dict[str, Any]:
    """Return the JSON-ready dict of a receipt."""
    result: dict[str, Any] = _RECEIPT_SCHEMA.dump(receipt)
    return result


def receipt_from_json(data: Any, system: str | None = None) -> CaseSystemReceipt:
    """Load a receipt from its JSON form; raise InvalidMessage with field-level reasons.

    `system`, when given, is what the authenticated sender is: it overrides the document's.
    """
    if system is not None and isinstance(data, dict):
        data = {**data, "system": system}
    receipt: CaseSystemReceipt = _load(_RECEIPT_SCHEMA, data)
    problems = receipt_problems(receipt)
    if problems:
        raise InvalidMessage(problems)
    return receipt


def rhi_outcome_to_json(outcome: RhiOutcome) -> dict[str, Any]:
    """Return the JSON-ready dict of an RHI outcome."""
    result: dict[str, Any] = _RHI_SCHEMA.dump(outcome)
    return result


def rhi_outcome_from_json(data: Any, system: str | None = None) -> RhiOutcome:
    """Load an RHI outcome (the `POST /api/v1/rhi` body); raise InvalidMessage with reasons."""
    if system is not None and isinstance(data, dict):
        data = {**data, "system": system}
    outcome: RhiOutcome = _load(_RHI_SCHEMA, data, echo_unknown=False)
    problems = rhi_outcome_problems(outcome)
    if problems:
        raise InvalidMessage(problems)
    return outcome


def _load(schema: Schema, data: Any, *, echo_unknown: bool = True) -> Any:
    """Run a schema's load and turn its messages into FieldErrors.

    With `echo_unknown` off, the value of an unknown key is not repeated in the reason: in an
    RHI export an unexpected key may hold exactly what must never leave the council.
    """
    if not isinstance(data, dict):
        raise InvalidMessage([FieldError("document", "must be a JSON object")])
    try:
        return schema.load(data)
    except ValidationError as exc:
        errors = flatten_validation_errors(exc.messages, data)
        if not echo_unknown:
            errors = [FieldError(e.field, e.message) if e.message == "Unknown field." else e
                      for e in errors]
        raise InvalidMessage(errors) from exc
