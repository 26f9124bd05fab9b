"""Render a notification as a Liquidlogic LCS missing-person feed file (liquidlogic_feed.xsd).

LCS keeps missing episodes in a missing-person table (start, end, status, RHI offered, RHI
accepted: Yes/No/NA) and takes external feeds as files dropped into a location. One file is
one row operation on that table plus the human-readable summary as a document.
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
from adapters.secure_mail.summary import build_summary, document_name, next_action, summary_text
from gateway.domain.model import Notification
from gateway.domain.schemas import notification_to_json
from routing.minimisation import minimise

NAMESPACE = "urn:missing-children-gateway:liquidlogic-feed:1"
ROOT = "LcsMissingFeed"
MEDIA_TYPE = "application/xml"
SUFFIX = ".lcs.xml"

OPERATIONS = {"MISSING_REPORTED": "INSERT", "UPDATE": "UPDATE", "RISK_REGRADED": "UPDATE",
              "FOUND": "UPDATE", "CLOSED": "CLOSE", "CANCELLED": "CANCEL",
              "RHI_OUTCOME": "UPDATE"}
STATUSES = {"MISSING": "Open", "RETURNED": "Returned", "CLOSED": "Closed",
            "CANCELLED": "Cancelled"}
RISK_LEVELS = {"NO_APPARENT_RISK": "No apparent risk", "LOW": "Low", "MEDIUM": "Medium",
               "HIGH": "High"}
YES_NO_NA = {"Y": "Yes", "N": "No", "NA": "NA"}


def render_liquidlogic(notification: Notification, profile: str) -> Rendered:
    """Return the LCS feed file for `notification`, minimised for `profile`."""
    if notification.event.value not in OPERATIONS:
        raise UnsupportedEvent("liquidlogic", notification.event.value)
    data = minimise(notification_to_json(notification), profile)
    return Rendered(content=to_bytes(build_feed(data, profile)), media_type=MEDIA_TYPE,
                    suffix=SUFFIX)


def build_feed(data: Mapping[str, Any], profile: str) -> etree._Element:
    """Build the feed document from minimised canonical JSON."""
    event = str(data["event"])
    nsmap: Any = {None: NAMESPACE}  # the stubs do not allow a default (None) prefix
    root = etree.Element(f"{{{NAMESPACE}}}{ROOT}", nsmap=nsmap)
    root.set("formatVersion", "1.0")
    root.set("profile", profile)
    add_reference(root, data)
    child = data.get("child")
    add_person_match(root, person_match(child))
    add_person(root, child)
    _add_record(root, data, event, profile)
    summary = build_summary(data, profile)
    text = summary_text(summary)
    add(root, "Document", "\n" + base64.encodebytes(text.encode("utf-8")).decode("ascii"),
        fileName=document_name(data), title=summary.title,
        mediaType="text/plain; charset=utf-8", encoding="base64")
    return root


def _add_record(root: etree._Element, data: Mapping[str, Any], event: str, profile: str) -> None:
    """Append the missing-person table row: type, start, end, status, risk, RHI."""
    record = add(root, "MissingRecord", operation=OPERATIONS[event])
    code = missing_type(data)
    if code is not None:
        add(record, "MissingType", code)
    start, end = episode_start(data), episode_end(data)
    if start:
        add(record, "StartDateTime", start)
    if end:
        add(record, "EndDateTime", end)
    if event in STATUS_BY_EVENT:
        add(record, "Status", STATUSES[STATUS_BY_EVENT[event]])
    risk = data.get("risk") or {}
    if risk.get("grade"):
        add(record, "RiskLevel", RISK_LEVELS[risk["grade"]])
    if risk.get("factors"):
        add(record, "RiskFactors", ",".join(risk["factors"]))
    # RHI columns are written only by an RHI outcome: absent means "leave as recorded".
    extra = data.get("extra") or {}
    if event == "RHI_OUTCOME":
        for tag, key in (("RhiOffered", "rhi_offered"), ("RhiAccepted", "rhi_accepted")):
            if extra.get(key) in YES_NO_NA:
                add(record, tag, YES_NO_NA[extra[key]])
        if extra.get("rhi_completed_on"):
            add(record, "RhiCompletedDate", extra["rhi_completed_on"])
    add(record, "ParentsNotToBeTold", "Yes" if data.get("parents_not_told") else "No")
    action = next_action(event, profile)
    add(record, "AssignTo", action.text, team=action.team)
