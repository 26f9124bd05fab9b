"""Render a notification as a multipart/alternative mail body (text and HTML summary).

For authorities whose case system takes no import file: a person reads the summary in a
secure mailbox (CJSM, Egress, TLS-enforced government mail) and keys it in. What comes back
is the gateway's own JSON forms: a receipt (`POST /api/v1/acks` body) and an RHI outcome
(`POST /api/v1/rhi` body), which a council may also drop as files.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import re
from email.message import EmailMessage

from adapters.base import Rendered
from adapters.case_receipts import ImportedFile, PersonMatch, load_json_document
from adapters.secure_mail.summary import build_summary, summary_html, summary_text
from gateway.domain.enums import EventType
from gateway.domain.errors import FieldError, InvalidMessage
from gateway.domain.model import Notification
from gateway.domain.receipts import (
    CaseSystemReceipt,
    GatewayReference,
    MatchKey,
    RhiOutcome,
    receipt_from_json,
    receipt_to_json,
    rhi_outcome_from_json,
    rhi_outcome_to_json,
)
from gateway.domain.schemas import notification_to_json
from routing.minimisation import minimise

MEDIA_TYPE = "multipart/alternative"
_POLICY = email.policy.SMTP.clone(max_line_length=78)


def mime_alternative(text: str, html: str) -> bytes:
    """Return a MIME multipart/alternative entity (CRLF) holding `text` and `html`.

    The boundary is derived from the content, so the same copy always renders to the same
    bytes (resends are recognisable and golden files stay stable).
    """
    message = EmailMessage(policy=_POLICY)
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for part in message.iter_parts():
        del part["MIME-Version"]  # only the top-level entity carries it (RFC 2045 §4)
    digest = hashlib.sha256((text + "\x00" + html).encode("utf-8")).hexdigest()[:32]
    message.set_boundary(f"=_gateway_{digest}")
    return message.as_bytes(policy=_POLICY)


class SecureMailAdapter:
    """The secure-mail rendering and the JSON receipts a mailbox authority sends back."""

    name = "secure_mail"

    def render(self, notification: Notification, profile: str) -> Rendered:
        """Return the minimised summary as a text + HTML MIME entity."""
        data = minimise(notification_to_json(notification), profile)
        summary = build_summary(data, profile)
        content = mime_alternative(summary_text(summary), summary_html(summary))
        return Rendered(content=content, media_type=MEDIA_TYPE, suffix=".eml")

    def read_import(self, content: bytes) -> ImportedFile:
        """Read back what a person reads first in the mail: the reference and the match key."""
        message = email.message_from_bytes(content, policy=email.policy.default)
        body = message.get_body(("plain",)) if isinstance(message, EmailMessage) else None
        if body is None or not isinstance(body, EmailMessage):
            raise InvalidMessage([FieldError("document", "has no text/plain part")])
        rows = dict(_ROW.findall(str(body.get_content()).replace("\r\n", "\n")))
        try:
            reference = GatewayReference(rows["Force"], rows["Police reference"],
                                         EventType(rows["Event"]), int(rows["Revision"]))
        except (KeyError, ValueError) as exc:
            raise InvalidMessage([FieldError("document", f"has no gateway reference ({exc})")]
                                 ) from None
        return ImportedFile(reference, _match(rows))

    def parse_receipt(self, raw: bytes) -> CaseSystemReceipt:
        """Parse a receipt in the gateway's JSON form."""
        return receipt_from_json(load_json_document(raw), system=self.name)

    def parse_rhi_outcome(self, raw: bytes) -> RhiOutcome:
        """Parse an RHI outcome in the gateway's JSON form; sensitive disclosures are dropped."""
        return rhi_outcome_from_json(load_json_document(raw), system=self.name)

    def write_receipt(self, receipt: CaseSystemReceipt, source_file: str | None = None) -> bytes:
        """Write the JSON receipt a mailbox authority (or its portal) sends back."""
        del source_file  # the JSON form names the delivery id itself
        return _json_bytes(receipt_to_json(receipt))

    def write_rhi_export(self, outcome: RhiOutcome, sensitive: str | None = None) -> bytes:
        """Write the JSON RHI outcome, with any disclosures the council wrongly includes."""
        data = rhi_outcome_to_json(outcome)
        if sensitive:
            data["sensitive_disclosures"] = sensitive
        return _json_bytes(data)


_ROW = re.compile(r"^  ([A-Za-z ]+): (.*)$", re.MULTILINE)
_NAMED = re.compile(r"\((?P<family>.+), (?P<given>.+), (?P<born>\d{4}-\d{2}-\d{2})\)$")


def _match(rows: dict[str, str]) -> PersonMatch | None:
    """Return the match key the mail offers, from its `Find the child by` line."""
    offered = rows.get("Find the child by")
    if offered is None:
        return None
    if offered.startswith("council child id "):
        return PersonMatch(MatchKey.COUNCIL_CHILD_ID,
                           council_child_id=offered.removeprefix("council child id "))
    if offered.startswith("NHS number "):
        return PersonMatch(MatchKey.NHS_NUMBER, nhs_number=offered.removeprefix("NHS number "))
    named = _NAMED.search(offered)
    if named is None:
        return PersonMatch(MatchKey.NAME_AND_DATE_OF_BIRTH)
    return PersonMatch(MatchKey.NAME_AND_DATE_OF_BIRTH, family_name=named["family"],
                       given_name=named["given"], date_of_birth=named["born"])


def _json_bytes(data: object) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
