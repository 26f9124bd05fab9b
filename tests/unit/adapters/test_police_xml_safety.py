"""Hostile XML fails closed: every attack is an InvalidMessage on `document`, nothing else."""

from __future__ import annotations

import os

import pytest
from lxml import etree

from adapters.compact import CompactAdapter
from adapters.niche import NicheAdapter
from adapters.xml_safety import DEFAULT_LIMITS, XmlLimits, make_parser, parse_document
from gateway.domain.errors import InvalidMessage

ROOT = ("MissingPersonNotification",)


def _reasons(raw: object, limits: XmlLimits = DEFAULT_LIMITS) -> list[str]:
    """Parse and return the rejection reasons, checking they are all on `document`."""
    with pytest.raises(InvalidMessage) as caught:
        parse_document(raw, ROOT, limits)  # type: ignore[arg-type]
    assert caught.value.errors, "a rejection must carry at least one reason"
    assert all(e.field == "document" for e in caught.value.errors)
    return [str(e) for e in caught.value.errors]


def _nested(depth: int) -> bytes:
    """Return a document whose elements nest `depth` levels deep."""
    return (
        b"<MissingPersonNotification>"
        + b"<a>" * (depth - 1)
        + b"</a>" * (depth - 1)
        + (b"</MissingPersonNotification>")
    )


def test_a_plain_document_parses() -> None:
    root = parse_document(b"<MissingPersonNotification a='1'/>", ROOT)
    assert root.tag == "MissingPersonNotification"


def test_empty_and_blank_bodies_are_rejected() -> None:
    assert _reasons(b"") == ["document: is empty"]
    assert _reasons(b" \n\t ") == ["document: is empty"]


def test_a_non_bytes_body_is_rejected() -> None:
    assert _reasons("<MissingPersonNotification/>") == ["document: must be bytes, not str"]


def test_oversized_document_is_rejected_before_parsing() -> None:
    raw = b"<MissingPersonNotification>" + b"x" * 2000 + b"</MissingPersonNotification>"
    [reason] = _reasons(raw, XmlLimits(max_bytes=1000))
    assert reason == f"document: is {len(raw)} bytes; the limit is 1000"


def test_default_size_limit_is_one_mebibyte() -> None:
    raw = b"<MissingPersonNotification>" + b"x" * (1024 * 1024) + b"</MissingPersonNotification>"
    assert "the limit is 1048576" in _reasons(raw)[0]


def test_nesting_deeper_than_the_limit_is_rejected() -> None:
    parse_document(_nested(64), ROOT)
    assert _reasons(_nested(65)) == ["document: nests elements deeper than 64 levels"]


def test_nesting_past_libxml2s_own_limit_is_rejected_too() -> None:
    [reason] = _reasons(_nested(5000), XmlLimits(max_depth=10_000))
    assert reason.startswith("document: is not well-formed XML")


def test_too_many_elements_is_rejected() -> None:
    raw = b"<MissingPersonNotification>" + b"<a/>" * 200 + b"</MissingPersonNotification>"
    assert _reasons(raw, XmlLimits(max_elements=100)) == ["document: has more than 100 elements"]


@pytest.mark.parametrize(
    "raw",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b'<!DOCTYPE r SYSTEM "http://198.51.100.7/x.dtd"><r/>',
        b"<!DOCTYPE r><r/>",
        b'<!doctype r [<!entity a "b">]><r/>',
    ],
    ids=["xxe", "external-dtd", "bare-doctype", "lower-case"],
)
def test_any_doctype_is_rejected(raw: bytes) -> None:
    [reason] = _reasons(raw)
    assert "DTDs are not accepted" in reason


def test_hardened_parser_never_expands_entities_even_if_a_dtd_got_through() -> None:
    secret = b"<!DOCTYPE r [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><r>&x;</r>"
    root = etree.fromstring(secret, make_parser())
    # The reference stays an unresolved entity node: the file is never read.
    assert isinstance(root[0], etree._Entity)
    assert "root:" not in "".join(str(t) for t in root.itertext())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<r>Zoë</r>".encode("latin-1"), "document: is not valid UTF-8 (byte 0xeb at offset 5)"),
        (
            b'<?xml version="1.0" encoding="windows-1252"?><r/>',
            "document: 'windows-1252' declares an encoding other than UTF-8; only UTF-8 is "
            "accepted",
        ),
        (
            "<r/>".encode("utf-16"),
            "document: is not UTF-8 (it starts with a UTF-16/UTF-32 byte-order mark)",
        ),
        (b"<r>\x00</r>", "document: contains NUL bytes; it is not an XML text document"),
    ],
    ids=["latin-1", "declared-cp1252", "utf-16", "nul"],
)
def test_non_utf8_is_rejected_with_a_reason(raw: bytes, expected: str) -> None:
    assert _reasons(raw) == [expected]


def test_utf8_with_bom_and_declaration_is_accepted() -> None:
    raw = b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?><MissingPersonNotification/>'
    assert parse_document(raw, ROOT).tag == "MissingPersonNotification"


def test_binary_garbage_is_rejected() -> None:
    garbage = bytes(range(256)) * 4
    [reason] = _reasons(garbage)
    assert reason.startswith("document: ")


def test_wrong_root_and_namespaced_root_are_rejected() -> None:
    assert _reasons(b"<Other/>") == [
        "document: 'Other' is the root element; expected <MissingPersonNotification>"
    ]
    [reason] = _reasons(b'<MissingPersonNotification xmlns="urn:x"/>')
    assert "{urn:x}MissingPersonNotification" in reason


def test_not_well_formed_reports_the_line() -> None:
    assert _reasons(b"<MissingPersonNotification>\n<a></b>\n</MissingPersonNotification>") == [
        "document: is not well-formed XML: Opening and ending tag mismatch: a line 2 and b, "
        "line 2, column 8 (line 2)"
    ]


@pytest.mark.parametrize("adapter", [CompactAdapter(), NicheAdapter()], ids=lambda a: a.name)
def test_adapters_apply_limits_from_the_forces_mapping(adapter: CompactAdapter) -> None:
    raw = b"<x>" + os.urandom(8).hex().encode() * 40 + b"</x>"
    with pytest.raises(InvalidMessage) as caught:
        adapter.parse(raw, {"limits": {"max_bytes": 100}})
    assert [e.field for e in caught.value.errors] == ["document"]
    assert "the limit is 100" in caught.value.errors[0].message
