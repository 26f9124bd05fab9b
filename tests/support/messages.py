"""Police test messages: the COMPACT golden fixtures, re-keyed for each test."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

COMPACT = Path(__file__).resolve().parents[1] / "unit" / "adapters" / "fixtures" / "compact"


def compact(name: str, *, reference: str | None = None, revision: int | None = None,
            force: str | None = None, **attributes: str) -> bytes:
    """Return fixture `name` (without .xml) with its root attributes changed as asked."""
    root = etree.fromstring((COMPACT / f"{name}.xml").read_bytes())
    if reference is not None:
        root.set("caseReference", reference)
    if revision is not None:
        root.set("revision", str(revision))
    if force is not None:
        root.set("forceCode", force)
    for key, value in attributes.items():
        root.set(key, value)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
