"""The one explicit table of adapters: format name → adapter class.

A test keeps this table and the adapter folders in step: every folder under adapters/
with a parser or renderer is listed here, and every entry's folder exists.
"""

from __future__ import annotations

from typing import Any

from adapters.base import CaseSystemAdapter, PoliceAdapter
from adapters.canonical.render import CanonicalJsonAdapter
from adapters.case_receipts import ReceiptParser
from adapters.compact.adapter import CompactAdapter
from adapters.liquidlogic.adapter import LiquidlogicAdapter
from adapters.mosaic.adapter import MosaicAdapter
from adapters.niche.adapter import NicheAdapter
from adapters.secure_mail.adapter import SecureMailAdapter
from gateway.domain.errors import UnknownAdapter

POLICE_ADAPTERS: dict[str, type[PoliceAdapter]] = {
    "compact": CompactAdapter,
    "niche": NicheAdapter,
}
CASE_SYSTEM_ADAPTERS: dict[str, type[CaseSystemAdapter]] = {
    "canonical_json": CanonicalJsonAdapter,
    "mosaic": MosaicAdapter,
    "liquidlogic": LiquidlogicAdapter,
    "secure_mail": SecureMailAdapter,
}
# What each case system sends back (acknowledgements, RHI exports), by case-system name.
RECEIPT_PARSERS: dict[str, type[ReceiptParser]] = {
    "mosaic": MosaicAdapter,
    "liquidlogic": LiquidlogicAdapter,
    "secure_mail": SecureMailAdapter,
}


def police_adapters() -> dict[str, PoliceAdapter]:
    """Return one instance of every police adapter, by format name."""
    return {name: cls() for name, cls in POLICE_ADAPTERS.items()}


def validate_police_mapping(adapter: str, overrides: dict[str, Any]) -> list[str]:
    """Return the problems of a force's mapping overrides for police adapter `adapter`."""
    instance = POLICE_ADAPTERS[adapter]()
    check = getattr(instance, "check_overrides", None)
    return list(check(overrides)) if check is not None else []


def case_system_adapter(name: str) -> CaseSystemAdapter:
    """Return the case-system adapter registered as `name`; raise UnknownAdapter if none."""
    cls = CASE_SYSTEM_ADAPTERS.get(name)
    if cls is None:
        raise UnknownAdapter(f"no case-system rendering named {name!r}; "
                             f"known: {', '.join(sorted(CASE_SYSTEM_ADAPTERS))}")
    return cls()


def receipt_parser(name: str) -> ReceiptParser:
    """Return the receipt parser of case system `name`; raise UnknownAdapter if none."""
    cls = RECEIPT_PARSERS.get(name)
    if cls is None:
        raise UnknownAdapter(f"no receipt parser for case system {name!r}; "
                             f"known: {', '.join(sorted(RECEIPT_PARSERS))}")
    return cls()
