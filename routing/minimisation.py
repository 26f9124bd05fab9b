"""Data minimisation: what each kind of recipient may see of a notification (DOMAIN.md §4).

Every suppression rule lives here and nowhere else. `minimise` works on the canonical JSON
form of a `Notification` (keys are the dataclass field names, nested objects are dicts,
tuples are lists, enums their values) and returns a new dict; the input is never changed.
Withheld values are set to None (or an empty list) so the shape stays that of a
Notification, and `extra["withheld"]` tells the recipient what was withheld and why.

Free-text material that the canonical model has no field for travels in `extra`, by key:
- `care_plan*`, `placement_plan*`: the council's plans; never to police (000 §6.1.6).
- `sensitive*`, `rhi_sensitive*`: RHI sensitive disclosures; stored apart and never in any
  routine share (000 §8.11; 002 L396; 003 L525).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

WITHHELD_KEY = "withheld"

_PLAN_PREFIXES = ("care_plan", "placement_plan")
_SENSITIVE_PREFIXES = ("sensitive", "rhi_sensitive")


@dataclass(frozen=True)
class Profile:
    """What one kind of recipient may see."""

    name: str
    description: str
    police: bool = False  # a police recipient: no care or placement plans (000 §6.1.6)
    information_only: bool = False  # a copy for information: confidential address withheld
    may_see_protected_whereabouts: bool = False  # may see a UASC / trafficked child's location


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "home_action",
            "home authority acting on a child missing from home",
            may_see_protected_whereabouts=True,
        ),
        Profile(
            "responsible_action",
            "responsible authority acting on its looked-after child",
            may_see_protected_whereabouts=True,
        ),
        Profile(
            "action",
            "an action copy (the Recipient default): as responsible_action",
            may_see_protected_whereabouts=True,
        ),
        Profile(
            "host_action",
            "host authority acting because the responsible authority is not known",
            may_see_protected_whereabouts=True,
        ),
        Profile(
            "iro",
            "independent reviewing officer of the responsible authority",
            may_see_protected_whereabouts=True,
        ),
        Profile(
            "host_information",
            "host authority copy for information (000 §6.2.3)",
            information_only=True,
        ),
        Profile(
            "youth_justice", "youth justice service told of an absconder", information_only=True
        ),
        Profile("rhi_share", "RHI outcome to the other council (004 L562)", information_only=True),
        Profile(
            "placement_notice",
            "placement notice to the host's missing lead (004 L552)",
            may_see_protected_whereabouts=True,
        ),
        Profile(
            "police_rhi_feedback",
            "RHI outcome shared back to the recording police force (000 §8.8)",
            police=True,
            information_only=True,
        ),
    )
}


def minimise(notification_json: dict[str, Any], profile: str) -> dict[str, Any]:
    """Return a copy of `notification_json` holding only what `profile` may see."""
    return minimise_with_report(notification_json, profile)[0]


def minimise_with_report(
    notification_json: dict[str, Any], profile: str
) -> tuple[dict[str, Any], list[str]]:
    """Minimise for `profile` and list what was withheld (`path: why`), for the share record.

    Raises ValueError for an unknown profile: sharing fails closed.
    """
    rules = PROFILES.get(profile)
    if rules is None:
        raise ValueError(f"unknown minimisation profile {profile!r}")
    data = copy.deepcopy(notification_json)
    withheld: list[str] = []
    extra = data.get("extra")
    extra = dict(extra) if isinstance(extra, dict) else {}
    extra.pop(WITHHELD_KEY, None)  # only this function may say what is withheld
    for key in sorted(extra):
        if key.startswith(_SENSITIVE_PREFIXES):
            del extra[key]
            withheld.append(
                f"extra.{key}: RHI sensitive disclosures never travel in a routine "
                "share (000 §8.11)"
            )
        elif rules.police and key.startswith(_PLAN_PREFIXES):
            del extra[key]
            withheld.append(
                f"extra.{key}: care and placement plans are not sent to police (000 §6.1.6)"
            )
    placement = data.get("placement")
    confidential = isinstance(placement, dict) and bool(placement.get("confidential"))
    if confidential and (rules.information_only or rules.police):
        _withhold_whereabouts(
            data, withheld, "confidential placement: address withheld", placement_only=True
        )
    if _protected(data) and not rules.may_see_protected_whereabouts:
        _withhold_whereabouts(
            data,
            withheld,
            "UASC or trafficked child: whereabouts disclosed only after checks "
            "(001 L276; 002 L544)",
            placement_only=False,
        )
    if "parents_not_told" in notification_json:
        # Never stripped: every recipient must see that parents are not to be told (000 L244).
        data["parents_not_told"] = bool(notification_json["parents_not_told"])
    if withheld:
        extra[WITHHELD_KEY] = "; ".join(withheld)
    data["extra"] = extra
    return data, withheld


def _protected(data: dict[str, Any]) -> bool:
    """Say whether the child is a UASC or at risk of trafficking."""
    child = data.get("child")
    if isinstance(child, dict) and child.get("uasc"):
        return True
    risk = data.get("risk")
    factors = risk.get("factors", []) if isinstance(risk, dict) else []
    return "TRAFFICKING" in (factors or [])


def _withhold_whereabouts(
    data: dict[str, Any], withheld: list[str], why: str, *, placement_only: bool
) -> None:
    """Blank the placement address and every field that may reveal where the child is."""
    placement = data.get("placement")
    placement_postcode = None
    if isinstance(placement, dict) and placement.get("address") is not None:
        address = placement["address"]
        placement_postcode = address.get("postcode") if isinstance(address, dict) else None
        placement["address"] = None
        withheld.append(f"placement.address: {why}")
    missing_from = data.get("missing_from")
    if isinstance(missing_from, dict) and (
        not placement_only
        or (placement_postcode and _same_postcode(missing_from.get("postcode"), placement_postcode))
    ):
        data["missing_from"] = None
        withheld.append(f"missing_from: {why}")
    child = data.get("child")
    home = child.get("home_address") if isinstance(child, dict) else None
    if (
        isinstance(child, dict)
        and isinstance(home, dict)
        and (
            not placement_only
            or (placement_postcode and _same_postcode(home.get("postcode"), placement_postcode))
        )
    ):
        child["home_address"] = None
        withheld.append(f"child.home_address: {why}")
    found = data.get("found")
    if isinstance(found, dict):
        keys = ("returned_to",) if placement_only else ("returned_to", "found_place")
        for key in keys:
            if found.get(key) is not None:
                found[key] = None
                withheld.append(f"found.{key}: {why}")
    if placement_only:
        return
    for key in ("last_seen_place",):
        if data.get(key) is not None:
            data[key] = None
            withheld.append(f"{key}: {why}")
    if data.get("places_frequented"):
        data["places_frequented"] = []
        withheld.append(f"places_frequented: {why}")


def _same_postcode(a: object, b: object) -> bool:
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    return a.replace(" ", "").upper() == b.replace(" ", "").upper()
