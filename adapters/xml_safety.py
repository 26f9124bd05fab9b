"""Hardened XML parsing for inbound police messages: hostile input fails closed.

Every rejection is an `InvalidMessage` whose `FieldError.field` is `document`; no lxml or
Unicode exception escapes. The checks run cheapest first: type, emptiness, size, encoding,
DOCTYPE, well-formedness (libxml2 with entities, DTDs and network off), then depth, element
count and root element name.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from lxml import etree

from gateway.domain.errors import FieldError, InvalidMessage

DOCUMENT = "document"

_XML_DECLARATION = re.compile(rb"^\s*<\?xml\b[^>]*?\bencoding\s*=\s*[\"']([^\"']*)[\"']")
# A DTD is never needed by our formats, so any DOCTYPE or ENTITY declaration is refused outright
# rather than parsed safely: that closes XXE, billion laughs and external DTD in one rule.
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")


@dataclass(frozen=True)
class XmlLimits:
    """Bounds a single inbound document must stay within."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 64
    max_elements: int = 10_000


DEFAULT_LIMITS = XmlLimits()


def _reject(message: str, value: str | None = None) -> InvalidMessage:
    """Build the InvalidMessage for one document-level reason."""
    return InvalidMessage([FieldError(DOCUMENT, message, value)])


def make_parser() -> etree.XMLParser:
    """Return an lxml parser with entities, DTDs, network access and huge trees all off."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def _check_encoding(raw: bytes) -> bytes:
    """Return `raw` without a UTF-8 byte-order mark, or reject it if it is not UTF-8."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE)):
        raise _reject("is not UTF-8 (it starts with a UTF-16/UTF-32 byte-order mark)")
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    declared = _XML_DECLARATION.match(raw)
    if declared is not None:
        name = declared.group(1).decode("ascii", "replace")
        if name.strip().lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise _reject("declares an encoding other than UTF-8; only UTF-8 is accepted", name)
    try:
        raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        raise _reject(f"is not valid UTF-8 (byte 0x{bad} at offset {exc.start})") from None
    if b"\x00" in raw:
        raise _reject("contains NUL bytes; it is not an XML text document")
    return raw


def _check_shape(root: etree._Element, limits: XmlLimits) -> None:
    """Reject a tree deeper or larger than `limits` allow."""
    count = 0
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        count += 1
        if count > limits.max_elements:
            raise _reject(f"has more than {limits.max_elements} elements")
        if depth > limits.max_depth:
            raise _reject(f"nests elements deeper than {limits.max_depth} levels")
        stack.extend((child, depth + 1) for child in element)


def parse_document(
    raw: bytes,
    root_names: tuple[str, ...],
    limits: XmlLimits = DEFAULT_LIMITS,
) -> etree._Element:
    """Parse untrusted bytes into an element tree, or raise InvalidMessage on `document`.

    `root_names` lists the root element names the format accepts.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise _reject(f"must be bytes, not {type(raw).__name__}")
    data = bytes(raw)
    if not data.strip():
        raise _reject("is empty")
    if len(data) > limits.max_bytes:
        raise _reject(f"is {len(data)} bytes; the limit is {limits.max_bytes}")
    data = _check_encoding(data)
    if any(marker in data for marker in _DTD_MARKERS):
        raise _reject("contains a DOCTYPE or ENTITY declaration; DTDs are not accepted")
    try:
        root = etree.fromstring(data, make_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else "?"
        raise _reject(f"is not well-formed XML: {exc.msg} (line {line})") from None
    except (etree.LxmlError, ValueError) as exc:
        raise _reject(f"could not be parsed as XML: {exc}") from None
    if root is None:
        raise _reject("has no root element")
    if getattr(root.getroottree().docinfo, "doctype", ""):
        raise _reject("contains a DOCTYPE declaration; DTDs are not accepted")
    _check_shape(root, limits)
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag not in root_names:
        expected = " or ".join(f"<{n}>" for n in root_names)
        raise _reject(f"is the root element; expected {expected}", tag)
    return root


def load_trusted_xml(path: str) -> etree._ElementTree:
    """Read one of our own shipped XML files (an XSD) with the same hardened parser."""
    return etree.parse(path, make_parser())
