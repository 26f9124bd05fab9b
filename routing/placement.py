"""Work out the home, responsible and host authority of a child (DOMAIN.md §4).

The host is the upper-tier authority whose area holds the placement postcode (the DfE
SSDA903 method); the responsible authority is named by police or known from a placement
notice on file; the home authority comes from the home address postcode, else the postcode
the child went missing from. Nothing is dropped: whatever cannot be determined becomes a
`CoordinatorItem`, and whoever can be determined is still returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.domain.model import Address, Child, Placement
from gateway.domain.routing import CoordinatorItem
from routing.directory import Authority, Directory

# Item kinds raised here; the dashboard groups coordinator items by kind.
ITEM_FIND_RESPONSIBLE = "find_responsible_authority"
ITEM_UNKNOWN_AUTHORITY = "unknown_authority"
ITEM_PLACEMENT_POSTCODE_MISSING = "placement_postcode_missing"
ITEM_POSTCODE_UNRESOLVED = "postcode_unresolved"
ITEM_OUTSIDE_ENGLAND = "outside_england"
ITEM_NO_ROUTE = "no_route"


class PostcodeAnswer(Protocol):
    """The shape of `routing.geography.PostcodeResult` that routing reads."""

    @property
    def postcode(self) -> str: ...
    @property
    def outcome(self) -> str: ...  # FOUND | NOT_ENGLAND | UNKNOWN | MALFORMED
    @property
    def nation(self) -> str | None: ...
    @property
    def upper_tier(self) -> str | None: ...
    @property
    def reason(self) -> str: ...


class PostcodeLookup(Protocol):
    """Anything that answers a postcode with its authority (the real index or a fake)."""

    def lookup(self, postcode: str) -> PostcodeAnswer:
        """Return the answer for one postcode; never raises for bad input."""
        ...


@dataclass(frozen=True)
class Located:
    """An authority found for a role, and the sentence that says how it was found."""

    authority: Authority
    reason: str


@dataclass(frozen=True)
class PlacementResolution:
    """Who the child belongs to and where they live, as far as can be determined."""

    looked_after: bool
    home: Located | None = None
    responsible: Located | None = None
    host: Located | None = None
    confidential: bool = False
    items: tuple[CoordinatorItem, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def placed_out_of_area(self) -> bool:
        """Say whether the host differs from the responsible authority (both known)."""
        return (
            self.responsible is not None
            and self.host is not None
            and self.host.authority.id != self.responsible.authority.id
        )


_NATION_TEXT = {
    "wales": "Wales",
    "scotland": "Scotland",
    "northern_ireland": "Northern Ireland",
    "channel_islands": "the Channel Islands",
    "isle_of_man": "the Isle of Man",
}


def resolve_placement(
    *,
    child: Child | None,
    placement: Placement | None,
    missing_from: Address | None,
    directory: Directory,
    postcodes: PostcodeLookup,
    known_responsible: str | None = None,
    force_id: str | None = None,
) -> PlacementResolution:
    """Resolve home, responsible and host authority for one child; never raises for gaps."""
    if placement is not None and placement.looked_after:
        return _looked_after(placement, missing_from, directory, postcodes, known_responsible)
    return _at_home(
        child, placement, missing_from, directory, postcodes, force_id, known_responsible
    )


class _Collector:
    """Gathers coordinator items and explanation notes while resolving."""

    def __init__(self) -> None:
        self.items: list[CoordinatorItem] = []
        self.notes: list[str] = []

    def item(self, kind: str, message: str, authority: str | None = None) -> None:
        self.items.append(CoordinatorItem(kind=kind, message=message, authority=authority))
        self.notes.append(f"coordinator item ({kind}): {message}")


def _by_postcode(
    postcode: str,
    what: str,
    directory: Directory,
    postcodes: PostcodeLookup,
    out: _Collector,
    *,
    redact: bool = False,
) -> tuple[Authority | None, PostcodeAnswer]:
    """Look up `postcode` and the directory entry of its upper tier; note what went wrong."""
    answer = postcodes.lookup(postcode)
    shown = "(withheld: confidential placement)" if redact else answer.postcode
    if redact:
        out.notes.append(
            f"{what} postcode {shown}: outcome {answer.outcome}, upper tier {answer.upper_tier}"
        )
    else:
        out.notes.append(f"{what} postcode: {answer.reason}")
    if str(answer.outcome) == "FOUND":
        authority = directory.by_gss(answer.upper_tier)
        if authority is None:
            out.item(
                ITEM_UNKNOWN_AUTHORITY,
                f"{what} postcode {shown} is in upper-tier authority "
                f"{answer.upper_tier}, which has no entry in the directory",
            )
        return authority, answer
    if str(answer.outcome) == "NOT_ENGLAND":
        return None, answer
    out.item(
        ITEM_POSTCODE_UNRESOLVED,
        f"{what} postcode could not be placed in an authority: "
        + (f"outcome {answer.outcome}" if redact else answer.reason),
    )
    return None, answer


def _nation_text(answer: PostcodeAnswer) -> str:
    return _NATION_TEXT.get(str(answer.nation or ""), "outside England")


def _at_home(
    child: Child | None,
    placement: Placement | None,
    missing_from: Address | None,
    directory: Directory,
    postcodes: PostcodeLookup,
    force_id: str | None,
    known_responsible: str | None,
) -> PlacementResolution:
    out = _Collector()
    candidates: list[tuple[str, str]] = []
    if child is not None and child.home_address is not None and child.home_address.postcode:
        candidates.append(("home address", child.home_address.postcode))
    if placement is not None and placement.address is not None and placement.address.postcode:
        candidates.append(("placement address", placement.address.postcode))
    if missing_from is not None and missing_from.postcode:
        candidates.append(("missing-from", missing_from.postcode))
    for what, postcode in candidates:
        authority, answer = _by_postcode(postcode, what, directory, postcodes, out)
        if authority is not None:
            source = "" if what == "home address" else " (no usable home address postcode)"
            reason = (
                f"home authority: {what} postcode {answer.postcode} is in {authority.name}"
                f"{source} (000 §5.3.5; 002 L266)"
            )
            return PlacementResolution(
                looked_after=False,
                home=Located(authority, reason),
                items=tuple(out.items),
                notes=tuple(out.notes),
            )
        if str(answer.outcome) == "NOT_ENGLAND":
            out.item(
                ITEM_OUTSIDE_ENGLAND,
                f"{what} postcode {answer.postcode} is in {_nation_text(answer)}: no English "
                "home authority; tell the authority there by hand",
            )
    named = (placement.responsible_authority if placement else None) or known_responsible
    authority = directory.resolve(named) if named else None
    if authority is not None:
        return PlacementResolution(
            looked_after=False,
            home=Located(
                authority,
                f"home authority: named as {named!r} (no usable postcode)",
            ),
            items=tuple(out.items),
            notes=tuple(out.notes),
        )
    fallback = _single_force_authority(force_id, directory)
    if not candidates:
        out.item(ITEM_NO_ROUTE, "no home address, placement or missing-from postcode was given")
    if fallback is not None:
        out.notes.append(f"routed to {fallback.name}, the only authority of force {force_id}")
        return PlacementResolution(
            looked_after=False,
            home=Located(
                fallback,
                f"home authority unknown: {fallback.name} is the only authority in the area of "
                f"{force_id}, the force that recorded the episode (003 L121-123)",
            ),
            items=tuple(out.items),
            notes=tuple(out.notes),
        )
    out.item(ITEM_NO_ROUTE, "no authority could be determined: route by hand")
    return PlacementResolution(looked_after=False, items=tuple(out.items), notes=tuple(out.notes))


def _looked_after(
    placement: Placement,
    missing_from: Address | None,
    directory: Directory,
    postcodes: PostcodeLookup,
    known_responsible: str | None,
) -> PlacementResolution:
    out = _Collector()
    responsible = _responsible(placement, directory, known_responsible, out)
    host = _host(placement, missing_from, directory, postcodes, out)
    if placement.confidential:
        out.notes.append(
            "confidential placement: routed by postcode, address withheld from information copies"
        )
    if responsible is None and host is None:
        out.item(ITEM_NO_ROUTE, "neither responsible nor host authority could be determined")
    return PlacementResolution(
        looked_after=True,
        responsible=responsible,
        host=host,
        confidential=placement.confidential,
        items=tuple(out.items),
        notes=tuple(out.notes),
    )


def _responsible(
    placement: Placement, directory: Directory, known: str | None, out: _Collector
) -> Located | None:
    named = placement.responsible_authority
    if named:
        authority = directory.resolve(named)
        if authority is not None:
            return Located(
                authority,
                f"responsible authority: named by police as {named!r} (000 §6.2.3)",
            )
        out.item(
            ITEM_UNKNOWN_AUTHORITY,
            f"police named responsible authority {named!r}, which is not in the directory: "
            "find it and send the notification by hand",
        )
    if known:
        authority = directory.resolve(known)
        if authority is not None:
            return Located(
                authority,
                f"responsible authority: {authority.name} from the placement notice on file",
            )
    if not named:
        out.item(
            ITEM_FIND_RESPONSIBLE,
            "looked-after child with no responsible authority named by police: find the "
            "placing authority and ask for its placement notice (001 L194)",
        )
    return None


def _host(
    placement: Placement,
    missing_from: Address | None,
    directory: Directory,
    postcodes: PostcodeLookup,
    out: _Collector,
) -> Located | None:
    postcode = placement.address.postcode if placement.address else None
    what = "placement"
    if not postcode:
        out.item(
            ITEM_PLACEMENT_POSTCODE_MISSING,
            "placement given without a postcode: host authority cannot be confirmed",
        )
        if not (missing_from and missing_from.postcode):
            return None
        postcode, what = missing_from.postcode, "missing-from"
    redact = placement.confidential
    authority, answer = _by_postcode(postcode, what, directory, postcodes, out, redact=redact)
    if str(answer.outcome) == "NOT_ENGLAND":
        shown_pc = "(withheld: confidential placement)" if redact else answer.postcode
        out.item(
            ITEM_OUTSIDE_ENGLAND,
            f"{what} postcode {shown_pc} is in {_nation_text(answer)}: no English host "
            "authority in the directory; tell the authority there by hand",
        )
        return None
    if authority is None:
        return None
    shown = "withheld (confidential placement)" if placement.confidential else answer.postcode
    return Located(
        authority,
        f"host authority: {what} postcode {shown} is in {authority.name}",
    )


def _single_force_authority(force_id: str | None, directory: Directory) -> Authority | None:
    force = directory.force(force_id)
    if force is None or len(force.area_authorities) != 1:
        return None
    return directory.authority(force.area_authorities[0])
