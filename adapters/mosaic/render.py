"""Render a notification as a Mosaic import file (mosaic_import.xsd).

Mosaic turns an inbound file into a work step plus next action (copies to act on) or a case
note plus alert (copies for information): `importType` says which. The missing episode is a
work step with start and end; the human-readable summary is attached as a document.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from lxml import etree

from adapters.base import Rendered
from adapters.case_receipts import (
    STATUS_BY_EVENT,
    UnsupportedEvent,
    add,
    add_person,
    add_person_match,
    add_reference,
    episode_end,
    episode_start,
    missing_type,
    person_match,
    to_bytes,
)
from adapters.secure_mail.summary import (
    build_summary,
    document_name,
    next_action,
    summary_text,
)
from gateway.domain.model import Notification
from gateway.domain.schemas import notification_to_json
from routing.minimisation import WITHHELD_KEY, minimise

NAMESPACE = "urn:missing-children-gateway:mosaic-import:1"
ROOT = "MosaicImport"
MEDIA_TYPE = "application/xml"
SUFFIX = ".mosaic.xml"

ACTIONS = {"MISSING_REPORTED": "START", "UPDATE": "UPDATE", "RISK_REGRADED": "UPDATE_RISK",
           "FOUND": "END", "CLOSED": "CLOSE", "CANCELLED": "CANCEL",
           "RHI_OUTCOME": "RECORD_RHI"}
# Copies to act on become a work step with a next action; the rest a case note with an alert.
WORKSTEP_PROFILES = frozenset({"home_action", "responsible_action", "action", "host_action",
                               "placement_notice"})
MISSING_TYPE_NAMES = {"M": "Missing", "A": "Absent"}


def render_mosaic(notification: Notification, profile: str) -> Rendered:
    """Return the Mosaic import file for `notification`, minimised for `profile`."""
    if notification.event.value not in ACTIONS:
        raise UnsupportedEvent("mosaic", notification.event.value)
    data = minimise(notification_to_json(notification), profile)
    return Rendered(content=to_bytes(build_import(data, profile)), media_type=MEDIA_TYPE,
                    suffix=SUFFIX)


def build_import(data: Mapping[str, Any], profile: str) -> etree._Element:
    """Build the import document from minimised canonical JSON."""
    event = str(data["event"])
    nsmap: Any = {None: NAMESPACE}  # the stubs do not allow a default (None) prefix
    root = etree.Element(f"{{{NAMESPACE}}}{ROOT}", nsmap=nsmap)
    root.set("formatVersion", "1.0")
    root.set("importType", "WORKSTEP" if profile in WORKSTEP_PROFILES else "CASE_NOTE")
    root.set("profile", profile)
    add_reference(root, data)
    child = data.get("child")
    add_person_match(root, person_match(child))
    add_person(root, child)
    _add_episode(root, data, event)
    for level, text in _alerts(data):
        add(root, "Alert", text, level=level)
    action = next_action(event, profile)
    add(root, "NextAction", action.text, team=action.team)
    summary = build_summary(data, profile)
    text = summary_text(summary)
    add(root, "Document", "\n" + base64.encodebytes(text.encode("utf-8")).decode("ascii"),
        fileName=document_name(data), title=summary.title,
        mediaType="text/plain; charset=utf-8", encoding="base64")
    return root


def _add_episode(root: etree._Element, data: Mapping[str, Any], event: str) -> None:
    """Append the missing-episode work step: type, start, end, status, risk."""
    step = add(root, "MissingEpisode", stepType="MISSING_EPISODE", action=ACTIONS[event])
    code = missing_type(data)
    if code is not None:
        add(step, "MissingType", MISSING_TYPE_NAMES[code], code=code)
    start, end = episode_start(data), episode_end(data)
    if start:
        add(step, "Start", start)
    if end:
        add(step, "End", end)
    if event in STATUS_BY_EVENT:
        add(step, "Status", STATUS_BY_EVENT[event])
    risk = data.get("risk")
    if risk:
        element = add(step, "Risk", grade=risk["grade"], assessedAt=risk["assessed_at"],
                      authorisedBy=risk.get("authorised_by"))
        for factor in risk.get("factors") or []:
            add(element, "Factor", factor)
        if risk.get("rationale"):
            add(element, "Rationale", risk["rationale"])
    add(step, "ParentsNotToBeTold", bool(data.get("parents_not_told")))


def _alerts(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return the (level, text) alerts Mosaic should raise on the child's record."""
    alerts = []
    if data.get("parents_not_told"):
        alerts.append(("WARNING", "Parents are not to be told (care plan)."))
    risk = data.get("risk") or {}
    if risk.get("grade") == "HIGH":
        alerts.append(("HIGH", "High risk missing episode."))
    child = data.get("child") or {}
    if child.get("uasc"):
        alerts.append(("WARNING", "Unaccompanied asylum-seeking child: whereabouts "
                       "disclosed only after checks."))
    withheld = (data.get("extra") or {}).get(WITHHELD_KEY)
    if withheld:
        alerts.append(("INFO", f"Withheld from this copy: {withheld}"))
    return alerts
