"""Mutators for fuzzing the police adapters, shared by the tests and bench/fuzz_police.py.

Each mutator takes a valid document and a `random.Random` and returns new bytes: structural
changes (drop, duplicate, shuffle, rename elements; change text and attributes) made on the
tree, and byte-level damage (truncate, splice, flip) made on the serialised form.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from adapters.police_xml import PoliceXmlAdapter
from gateway.domain.errors import InvalidMessage

FIXTURES = Path(__file__).parent / "fixtures"

_NASTY_TEXT = [
    "",
    " ",
    "2031-02-30",
    "2026-03-29T01:30:00",
    "9999-12-31T23:59:59+14:00",
    "-1",
    "0",
    "1" * 40,
    "Zoë Ní Bhriain",
    "x" * 300,
    "+44",
    "NaN",
    "true",
    "Y",
    "\u202e",
    "🙂",
    "A" * 36,
]


def seed_documents(adapter: str) -> list[bytes]:
    """Return the valid fixture documents of one adapter (the fuzz seeds)."""
    return [p.read_bytes() for p in sorted((FIXTURES / adapter).glob("*.xml"))]


def _elements(root: etree._Element) -> list[etree._Element]:
    """Return every element of the tree (no comments or PIs)."""
    return [e for e in root.iter() if isinstance(e.tag, str)]


def _drop(root: etree._Element, rng: random.Random) -> None:
    """Remove one random element."""
    victims = [e for e in _elements(root) if e.getparent() is not None]
    if victims:
        victim = rng.choice(victims)
        parent = victim.getparent()
        assert parent is not None
        parent.remove(victim)


def _duplicate(root: etree._Element, rng: random.Random) -> None:
    """Repeat one random element beside itself."""
    victims = [e for e in _elements(root) if e.getparent() is not None]
    if victims:
        victim = rng.choice(victims)
        victim.addnext(etree.fromstring(etree.tostring(victim)))


def _shuffle(root: etree._Element, rng: random.Random) -> None:
    """Put one random element's children in random order."""
    parent = rng.choice(_elements(root))
    children = list(parent)
    rng.shuffle(children)
    for child in children:
        parent.remove(child)
        parent.append(child)


def _change_text(root: etree._Element, rng: random.Random) -> None:
    """Replace one element's text with a hostile value."""
    target = rng.choice(_elements(root))
    target.text = rng.choice(_NASTY_TEXT)


def _change_attribute(root: etree._Element, rng: random.Random) -> None:
    """Replace one attribute value with a hostile value."""
    candidates = [e for e in _elements(root) if e.attrib]
    if candidates:
        target = rng.choice(candidates)
        name = rng.choice(sorted(str(k) for k in target.attrib))
        target.set(name, rng.choice(_NASTY_TEXT))


def _rename(root: etree._Element, rng: random.Random) -> None:
    """Rename one random element."""
    target = rng.choice(_elements(root))
    target.tag = rng.choice(["X", "Subject", "Nominal", "Risk", "Located", target.tag + "s"])


_TREE_MUTATORS: list[Callable[[etree._Element, random.Random], None]] = [
    _drop,
    _duplicate,
    _shuffle,
    _change_text,
    _change_attribute,
    _rename,
]


def _damage_bytes(doc: bytes, rng: random.Random) -> bytes:
    """Truncate, splice random bytes into, or flip bytes of a document."""
    choice = rng.randrange(3)
    at = rng.randrange(len(doc) + 1)
    if choice == 0:
        return doc[:at]
    if choice == 1:
        return doc[:at] + rng.randbytes(rng.randrange(1, 16)) + doc[at:]
    data = bytearray(doc)
    for _ in range(rng.randrange(1, 8)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def mutate(doc: bytes, rng: random.Random) -> bytes:
    """Return `doc` changed by one to three random mutations."""
    if rng.random() < 0.2:
        return _damage_bytes(doc, rng)
    root = etree.fromstring(doc)
    for _ in range(rng.randrange(1, 4)):
        rng.choice(_TREE_MUTATORS)(root, rng)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def outcome(adapter: PoliceXmlAdapter, raw: bytes) -> str:
    """Parse `raw` and say 'accepted' or 'rejected'; anything else propagates (a crash).

    A rejection without any reason is a crash too: it would tell the sender nothing.
    """
    try:
        adapter.parse(raw)
    except InvalidMessage as exc:
        if not exc.errors or not all(e.field for e in exc.errors):
            raise AssertionError(f"rejection without a named field: {exc.errors!r}") from exc
        return "rejected"
    return "accepted"
