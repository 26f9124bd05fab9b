"""Golden fixture support for the police adapter tests, and a writer for expected files.

Layout under fixtures/<adapter>/:
  <case>.xml                  a valid message
  <case>.json                 its expected canonical JSON (gateway.domain.schemas form)
  <case>.overrides.json       optional: the force's mapping overrides to parse it with
  invalid/<case>.xml          an invalid message
  invalid/<case>.reasons.json the expected reasons, each `str(FieldError)`, in order

Run `python tests/unit/adapters/police_golden.py --write` to (re)write the expected files from
what the adapters produce now; review the diff before trusting it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from adapters.compact import CompactAdapter
from adapters.police_xml import PoliceXmlAdapter
from gateway.domain.errors import InvalidMessage
from gateway.domain.schemas import notification_to_json

FIXTURES = Path(__file__).parent / "fixtures"


def adapters() -> dict[str, PoliceXmlAdapter]:
    """Return one instance of each police adapter, by name."""
    found: dict[str, PoliceXmlAdapter] = {"compact": CompactAdapter()}
    try:
        from adapters.niche import NicheAdapter
    except ImportError:
        return found
    found["niche"] = NicheAdapter()
    return found


def overrides_for(xml_path: Path) -> dict[str, Any] | None:
    """Return the overrides stored beside a fixture, if any."""
    path = xml_path.with_name(xml_path.stem + ".overrides.json")
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def valid_cases(adapter: str) -> list[Path]:
    """Return the valid fixture files of one adapter."""
    return sorted((FIXTURES / adapter).glob("*.xml"))


def invalid_cases(adapter: str) -> list[Path]:
    """Return the invalid fixture files of one adapter."""
    return sorted((FIXTURES / adapter / "invalid").glob("*.xml"))


def reasons_of(adapter: PoliceXmlAdapter, xml_path: Path) -> list[str]:
    """Parse an invalid fixture and return its reasons (empty if it parsed)."""
    try:
        adapter.parse(xml_path.read_bytes(), overrides_for(xml_path))
    except InvalidMessage as exc:
        return [str(e) for e in exc.errors]
    return []


def write_expected() -> None:
    """Write every fixture's expected file from the current adapters' output."""
    for name, adapter in adapters().items():
        for path in valid_cases(name):
            got = notification_to_json(adapter.parse(path.read_bytes(), overrides_for(path)))
            out = path.with_suffix(".json")
            out.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for path in invalid_cases(name):
            reasons = reasons_of(adapter, path)
            out = path.with_name(path.stem + ".reasons.json")
            out.write_text(json.dumps(reasons, indent=2, ensure_ascii=False) + "\n", "utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: police_golden.py --write")
    write_expected()
