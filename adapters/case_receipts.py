"""Shared pieces of the case-system adapters: match keys, the receipt port, XML helpers.

- `person_match` picks the one key a rendering offers a council to find the child by:
  the council's own child id when police know it, else the NHS number, else name and date
  of birth (issue 6 §2).
- `ReceiptParser` is the port each case system's adapter implements for what comes back:
  acknowledgement files (`parse_receipt`) and Return Home Interview exports
  (`parse_rhi_outcome`).
- `XsdValidator`, `AckReader` and `add` are the XML plumbing the Mosaic and Liquidlogic
  adapters share: hardened parsing (adapters/xml_safety.py), XSD errors as FieldErrors,
  typed reads that collect every problem rather than stopping at the first.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, TypeVar

from lxml import etree

from adapters.xml_safety import load_trusted_xml, parse_document
from gateway.domain.enums import EventType
from gateway.domain.errors import FieldError, GatewayError, InvalidMessage
from gateway.domain.receipts import (
    CaseSystemReceipt,
    GatewayReference,
    MatchKey,
    RhiOutcome,
)


class UnsupportedEvent(GatewayError):
    """An event a case system's import format has no place for (the copy is held, not lost)."""

    def __init__(self, system: str, event: str) -> None:
        self.system = system
        self.event = event
        super().__init__(f"the {system} import format has no form for {event}; send this "
                         "authority's copy as secure_mail")


@dataclass(frozen=True)
class PersonMatch:
    """The key a rendering offers the council to match the child to a person record."""

    key: MatchKey
    council_child_id: str | None = None
    nhs_number: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: str | None = None  # ISO date, as in the canonical JSON


def person_match(child: Mapping[str, Any] | None) -> PersonMatch | None:
    """Return the strongest key the (canonical JSON) child offers, or None without a child."""
    if not child:
        return None
    if child.get("council_child_id"):
        return PersonMatch(MatchKey.COUNCIL_CHILD_ID, council_child_id=child["council_child_id"])
    if child.get("nhs_number"):
        return PersonMatch(MatchKey.NHS_NUMBER, nhs_number=child["nhs_number"])
    return PersonMatch(MatchKey.NAME_AND_DATE_OF_BIRTH, given_name=child.get("given_name"),
                       family_name=child.get("family_name"),
                       date_of_birth=child.get("date_of_birth"))


class ReceiptParser(Protocol):
    """Reads what one case system sends back about the files the gateway delivered."""

    name: str

    def parse_receipt(self, raw: bytes) -> CaseSystemReceipt:
        """Parse one acknowledgement file; raise InvalidMessage with reasons if malformed."""
        ...

    def parse_rhi_outcome(self, raw: bytes) -> RhiOutcome:
        """Parse one RHI export, dropping sensitive disclosures; InvalidMessage if malformed."""
        ...


# ---------------------------------------------------------------------------------------------
# Writing XML

# XML 1.0 allows tab, newline, carriage return and U+0020 upwards (less surrogates, FFFE/FFFF).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    """Return `value` as text XML 1.0 can hold: control characters are dropped."""
    text = value.value if isinstance(value, Enum) else value
    if isinstance(text, bool):
        return "true" if text else "false"
    return _NOT_XML.sub("", str(text))


def add(parent: etree._Element, tag: str, text: object = None,
        **attributes: object) -> etree._Element:
    """Append child `tag` (in the parent's namespace) with text and the non-None attributes."""
    namespace = etree.QName(parent).namespace
    element = etree.SubElement(parent, f"{{{namespace}}}{tag}" if namespace else tag)
    for name, value in attributes.items():
        attribute = None if value is None else xml_text(value)
        if attribute:  # an empty attribute says nothing: leave it out
            element.set(name, attribute)
    if text is not None:
        element.text = xml_text(text)
    return element


def to_bytes(root: etree._Element) -> bytes:
    """Serialise a document as indented UTF-8 with an XML declaration."""
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


# ---------------------------------------------------------------------------------------------
# Reading XML that came back from a council


class XsdValidator:
    """Validates documents against one shipped XSD; the schema loads on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._doc: etree._ElementTree | None = None
        self._local = threading.local()
        self._lock = threading.Lock()

    def _schema(self) -> etree.XMLSchema:
        """Return this thread's XMLSchema (an error log is per instance, so never shared)."""
        schema: etree.XMLSchema | None = getattr(self._local, "schema", None)
        if schema is None:
            with self._lock:
                if self._doc is None:
                    self._doc = load_trusted_xml(str(self.path))
            schema = etree.XMLSchema(self._doc)
            self._local.schema = schema
        return schema

    def errors(self, root: etree._Element) -> list[FieldError]:
        """Return one FieldError per schema violation, named by the element's path."""
        schema = self._schema()
        if schema.validate(root):
            return []
        return [FieldError(_relative_path(entry.path, root), _clean(entry.message))
                for entry in schema.error_log]  # type: ignore[attr-defined]


_NS_IN_MESSAGE = re.compile(r"\{[A-Za-z][A-Za-z0-9+.-]*:[^}]*\}")


def _clean(message: str) -> str:
    """Drop namespace URIs from a libxml2 message, which only make it harder to read."""
    return _NS_IN_MESSAGE.sub("", message)


def _relative_path(path: str | None, root: etree._Element) -> str:
    """Turn an lxml error path (`/Root/Child[2]`) into a path from the root (`Child[2]`)."""
    if not path:
        return "document"
    parts = [p for p in path.split("/") if p]
    if parts and etree.QName(root).localname in parts[0]:
        parts = parts[1:]
    cleaned = [p.split(":", 1)[-1] for p in parts]
    return "/".join(cleaned) or "document"


E = TypeVar("E", bound=Enum)
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


class AckReader:
    """Typed reads from a namespace-free document, collecting a FieldError for each problem."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.errors: list[FieldError] = []

    def text(self, path: str, *, required: bool = False) -> str | None:
        """Return the stripped text (or attribute) at `path`, None when absent or empty."""
        found = self.root.xpath(path)
        value: str | None = None
        if isinstance(found, list) and found:
            first = found[0]
            value = first.text if isinstance(first, etree._Element) else str(first)
        value = value.strip() if value else None
        if required and not value:
            self.errors.append(FieldError(path, "is required"))
        return value or None

    def texts(self, path: str) -> list[str]:
        """Return every non-empty text at `path`, in document order."""
        found = self.root.xpath(path)
        if not isinstance(found, list):
            return []
        values = [(f.text if isinstance(f, etree._Element) else str(f)) for f in found]
        return [v.strip() for v in values if v and v.strip()]

    def code(self, path: str, table: Mapping[str, E], *, required: bool = False) -> E | None:
        """Return the enum member that the code at `path` stands for."""
        value = self.text(path, required=required)
        if value is None:
            return None
        member = table.get(value)
        if member is None:
            self.errors.append(FieldError(path, f"is not one of {', '.join(table)}", value))
        return member

    def flag(self, path: str, *, required: bool = False) -> bool | None:
        """Return the xs:boolean at `path`."""
        value = self.text(path, required=required)
        if value is None:
            return None
        if value not in _BOOLEANS:
            self.errors.append(FieldError(path, "is not true or false", value))
        return _BOOLEANS.get(value)

    def timestamp(self, path: str, *, required: bool = False) -> datetime | None:
        """Return the date-time at `path`, which must carry a UTC offset."""
        return aware(self, path, self.text(path, required=required))

    def day(self, path: str, *, required: bool = False) -> date | None:
        """Return the ISO date at `path`."""
        value = self.text(path, required=required)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.errors.append(FieldError(path, "is not a date (YYYY-MM-DD)", value))
            return None

    def integer(self, path: str) -> int | None:
        """Return the whole number at `path`."""
        value = self.text(path)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            self.errors.append(FieldError(path, "is not a whole number", value))
            return None


def aware(reader: AckReader, path: str, value: str | None) -> datetime | None:
    """Parse an ISO date-time that must carry a UTC offset; record a FieldError otherwise."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        reader.errors.append(FieldError(path, "is not an ISO 8601 date-time", value))
        return None
    if parsed.tzinfo is None:
        reader.errors.append(FieldError(path, "must carry a UTC offset", value))
        return None
    return parsed


def read_document(raw: bytes, root_names: tuple[str, ...], validator: XsdValidator
                  ) -> AckReader:
    """Parse untrusted bytes (hardened), validate them, and return a reader over the root."""
    root = parse_document(raw, root_names)
    errors = validator.errors(root)
    if errors:
        raise InvalidMessage(errors)
    return AckReader(root)


def rename_fields(errors: list[FieldError], names: Mapping[str, str]) -> list[FieldError]:
    """Rename canonical field names to the file's own paths, so a council can find them."""
    return [FieldError(names.get(e.field, e.field), e.message, e.value) for e in errors]


def load_json_document(raw: bytes, max_bytes: int = 1024 * 1024) -> Any:
    """Decode untrusted UTF-8 JSON bytes; raise InvalidMessage on `document` if unreadable."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise InvalidMessage([FieldError("document", f"must be bytes, not {type(raw).__name__}")])
    data = bytes(raw)
    if not data.strip():
        raise InvalidMessage([FieldError("document", "is empty")])
    if len(data) > max_bytes:
        raise InvalidMessage([FieldError("document", f"is {len(data)} bytes; the limit is "
                                         f"{max_bytes}")])
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidMessage([FieldError("document", f"is not valid UTF-8 (offset "
                                         f"{exc.start})")]) from None
    except json.JSONDecodeError as exc:
        raise InvalidMessage([FieldError("document", f"is not JSON: {exc.msg} (line "
                                         f"{exc.lineno})")]) from None


# ---------------------------------------------------------------------------------------------
# Pieces the Mosaic and Liquidlogic import files share (each in its own namespace)

STATUS_BY_EVENT = {"MISSING_REPORTED": "MISSING", "UPDATE": "MISSING",
                   "RISK_REGRADED": "MISSING", "FOUND": "RETURNED", "CLOSED": "CLOSED",
                   "CANCELLED": "CANCELLED"}  # an RHI outcome says nothing of the episode's state


def missing_type(data: Mapping[str, Any]) -> str | None:
    """Return the SSDA903 MISSING code: `A` (absent) for no apparent risk, else `M`."""
    risk = data.get("risk") or {}
    grade = risk.get("grade")
    if grade is None:
        return None
    return "A" if grade == "NO_APPARENT_RISK" else "M"


def episode_start(data: Mapping[str, Any]) -> str | None:
    """Return when the episode began as police know it: last seen, else reported."""
    if data.get("event") == "RHI_OUTCOME":
        return None
    return data.get("last_seen_at") or data.get("reported_at")


def episode_end(data: Mapping[str, Any]) -> str | None:
    """Return when the episode ended: the time the child was found."""
    found = data.get("found") or {}
    value = found.get("found_at")
    return str(value) if value else None


def add_reference(root: etree._Element, data: Mapping[str, Any]) -> etree._Element:
    """Append the ExternalReference: the notification key the council echoes back."""
    return add(root, "ExternalReference", force=data["force"],
               policeReference=data["police_reference"], event=data["event"],
               revision=data.get("revision", 1), occurredAt=data["occurred_at"],
               incidentNumber=data.get("incident_number"))


def add_person_match(root: etree._Element, match: PersonMatch | None) -> None:
    """Append the PersonMatch element offering exactly one key, when there is a child."""
    if match is None:
        return
    element = add(root, "PersonMatch", key=match.key)
    if match.key is MatchKey.COUNCIL_CHILD_ID:
        add(element, "CouncilChildId", match.council_child_id)
    elif match.key is MatchKey.NHS_NUMBER:
        add(element, "NhsNumber", match.nhs_number)
    else:
        add(element, "Forename", match.given_name)
        add(element, "Surname", match.family_name)
        add(element, "DateOfBirth", match.date_of_birth)


def add_person(root: etree._Element, child: Mapping[str, Any] | None) -> None:
    """Append the Person element: who the child is, for display and for creating a record."""
    if not child:
        return
    add(root, "Person", forename=child["given_name"], surname=child["family_name"],
        dateOfBirth=child["date_of_birth"], gender=child.get("gender"),
        ethnicity=child.get("ethnicity"), nhsNumber=child.get("nhs_number"),
        councilChildId=child.get("council_child_id"), uasc=child.get("uasc") or None)


@dataclass(frozen=True)
class ImportedFile:
    """What a council reads first from an import file: what it is about, and whom."""

    reference: GatewayReference
    match: PersonMatch | None


def read_import(content: bytes, root_name: str) -> ImportedFile:
    """Read the reference and offered match key back from a rendered import file.

    This is the council's side of the round trip (tests, the demo council simulator).
    """
    root = parse_document(content, (root_name,))
    namespace = etree.QName(root).namespace

    reference = root.find(_qualified("ExternalReference", namespace))
    if reference is None:
        raise InvalidMessage([FieldError("ExternalReference", "is required")])
    gateway_reference = GatewayReference(
        force=reference.get("force", ""), police_reference=reference.get("policeReference", ""),
        event=EventType(reference.get("event", "")), revision=int(reference.get("revision", "1")))
    element = root.find(_qualified("PersonMatch", namespace))
    match = None
    if element is not None:
        key = MatchKey(element.get("key", ""))

        def text(name: str) -> str | None:
            assert element is not None
            found = element.find(_qualified(name, namespace))
            return found.text if found is not None else None

        match = PersonMatch(key, council_child_id=text("CouncilChildId"),
                            nhs_number=text("NhsNumber"), given_name=text("Forename"),
                            family_name=text("Surname"), date_of_birth=text("DateOfBirth"))
    return ImportedFile(gateway_reference, match)


def _qualified(path: str, namespace: str | None) -> str:
    """Qualify each step of a simple path with `namespace`."""
    if not namespace:
        return path
    return "/".join(f"{{{namespace}}}{step}" for step in path.split("/"))
