"""The human-readable summary of a notification, as plain text and as escaped HTML.

Built from the *minimised* canonical JSON (routing.minimisation), never from the Notification
itself, so a copy can only show what its profile allows. Secure mail sends it as the mail
body; Mosaic and Liquidlogic attach the text form as a document.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from adapters.case_receipts import person_match, xml_text
from gateway.domain.receipts import RHI_EXTRA_KEYS, MatchKey
from routing.minimisation import WITHHELD_KEY

UK_TIME = ZoneInfo("Europe/London")
MARKING = "OFFICIAL-SENSITIVE"

TITLES = {
    "MISSING_REPORTED": "Child reported missing",
    "UPDATE": "Update on a missing child",
    "RISK_REGRADED": "Risk regraded for a missing child",
    "FOUND": "Missing child found",
    "CLOSED": "Missing episode closed by police",
    "CANCELLED": "Missing report cancelled (raised in error)",
    "RHI_OUTCOME": "Return Home Interview outcome",
}
GRADES = {"NO_APPARENT_RISK": "No apparent risk (absent)", "LOW": "Low", "MEDIUM": "Medium",
          "HIGH": "High"}
PLACEMENTS = {"HOME": "At home", "FOSTER": "Foster care", "RESIDENTIAL": "Residential care",
              "OTHER": "Other placement"}
LEGAL = {"NONE": "None recorded", "CHILD_IN_NEED": "Child in need",
         "CP_PLAN": "Child protection plan", "S20": "Section 20 (accommodated)",
         "S31": "Section 31 care order", "S38": "Section 38 interim care order",
         "S21": "Section 21", "REMAND": "Remanded (RLAA)"}
FACTORS = {"CSE": "child sexual exploitation (CSE)", "CCE": "child criminal exploitation (CCE)",
           "TRAFFICKING": "trafficking", "SELF_HARM": "self-harm",
           "MEDICAL_NEEDS": "medical needs", "MENTAL_HEALTH": "mental health",
           "GANGS": "gangs", "SUBSTANCE_USE": "substance use"}
GENDERS = {"M": "Male", "F": "Female", "I": "Indeterminate", "U": "Not known"}
YES_NO_NA = {"Y": "Yes", "N": "No", "NA": "Not applicable"}
RHI_STATUS = {"OFFERED": "Offered", "COMPLETED": "Completed", "DECLINED": "Declined",
              "NOT_POSSIBLE": "Not possible"}
_ACTION_PROFILES = frozenset({"home_action", "responsible_action", "action", "host_action",
                              "placement_notice"})


@dataclass(frozen=True)
class NextAction:
    """What the receiving council should do next, and which of its teams should do it."""

    team: str
    text: str


@dataclass(frozen=True)
class Section:
    """One titled block of label/value rows."""

    title: str
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Summary:
    """Everything a person reads: title, alerts, sections and the next action."""

    title: str
    alerts: tuple[str, ...]
    sections: tuple[Section, ...]
    next_action: NextAction
    profile: str


def next_action(event: str, profile: str) -> NextAction:
    """Return the next action for the team that should take it, by event and profile."""
    if profile == "iro":
        return NextAction("iro_service", "For the child's independent reviewing officer: note "
                          "this event for the child's next review.")
    if profile == "youth_justice":
        return NextAction("youth_justice", "For information: the child is subject to youth "
                          "justice work; check whether bail or order conditions are affected.")
    if profile == "police_rhi_feedback":
        return NextAction("police", "For information: add the Return Home Interview findings "
                          "to the missing person record.")
    if profile in ("host_information", "rhi_share"):
        if event == "RHI_OUTCOME":
            return NextAction("missing_coordinator", "For information: record the Return Home "
                              "Interview outcome the other council shared on the child's file.")
        return NextAction("missing_coordinator", "For information: this child is placed in your "
                          "area by another council. Open or update your own record; the "
                          "responsible authority leads unless your agreement says otherwise.")
    actions = {
        "MISSING_REPORTED": ("missing_coordinator", "Open a missing episode, check the risk "
                             "grade and arrange a strategy discussion if the risk is high."),
        "UPDATE": ("missing_coordinator", "Record the update on the open missing episode."),
        "RISK_REGRADED": ("missing_coordinator", "Review the new risk grade and whether a "
                          "strategy discussion is now needed."),
        "FOUND": ("rhi_service", "Offer the child a Return Home Interview within 72 hours "
                  "(or your authority's rule) and record the outcome."),
        "CLOSED": ("missing_coordinator", "End the missing episode and make sure the Return "
                   "Home Interview is recorded."),
        "CANCELLED": ("missing_coordinator", "Cancel the missing episode: police raised it in "
                      "error. No Return Home Interview is due."),
        "RHI_OUTCOME": ("missing_coordinator", "Record the Return Home Interview outcome on "
                        "the missing episode."),
    }
    team, text = actions.get(event, ("missing_coordinator", "Review this notification."))
    if profile not in _ACTION_PROFILES:
        text = "For information: " + text[0].lower() + text[1:]
    return NextAction(team, text)


def build_summary(data: Mapping[str, Any], profile: str) -> Summary:
    """Return the summary of one minimised canonical notification for `profile`."""
    event = str(data.get("event"))
    extra = data.get("extra") or {}
    return Summary(
        title=TITLES.get(event, event.replace("_", " ").capitalize()),
        alerts=tuple(_alerts(data, extra)),
        sections=tuple(s for s in _sections(data, extra, event) if s.rows),
        next_action=next_action(event, profile),
        profile=profile,
    )


def _alerts(data: Mapping[str, Any], extra: Mapping[str, Any]) -> list[str]:
    alerts = []
    if data.get("parents_not_told"):
        alerts.append("Do NOT tell the parents: the care plan says they are not to be told.")
    risk = data.get("risk") or {}
    if risk.get("grade") == "HIGH":
        alerts.append("HIGH RISK: act now.")
    child = data.get("child") or {}
    if child.get("uasc"):
        alerts.append("Unaccompanied asylum-seeking child: disclose whereabouts only after "
                      "checks.")
    if extra.get(WITHHELD_KEY):
        alerts.extend(_withheld(str(extra[WITHHELD_KEY])))
    return alerts


# Items are `path: why` joined by "; ", but a why may itself hold "; " (citations).
_ITEM_SEPARATOR = re.compile(r"; (?=[A-Za-z_][\w.\[\]]*: )")


def _withheld(report: str) -> list[str]:
    """Group minimisation's `path: why; path: why` report into one line per reason."""
    by_reason: dict[str, list[str]] = {}
    for item in _ITEM_SEPARATOR.split(report):
        path, _, why = item.partition(": ")
        by_reason.setdefault(why or "withheld", []).append(path)
    return [f"Withheld from this copy: {', '.join(paths)}. Why: {why}."
            for why, paths in by_reason.items()]


def _sections(data: Mapping[str, Any], extra: Mapping[str, Any], event: str) -> list[Section]:
    child = data.get("child") or {}
    risk = data.get("risk") or {}
    placement = data.get("placement") or {}
    found = data.get("found") or {}
    on = _day(data.get("occurred_at"))
    sections = [
        _section("Police", ("Force", data.get("force")),
                 ("Police reference", data.get("police_reference")),
                 ("Incident number", data.get("incident_number")),
                 ("Event", data.get("event")),
                 ("Recorded", _when(data.get("occurred_at"))),
                 ("Revision", data.get("revision"))),
        _section("Child",
                 ("Name", " ".join(filter(None, (child.get("given_name"),
                                                 child.get("family_name"))))),
                 ("Date of birth", _birth(child.get("date_of_birth"), on)),
                 ("Gender", GENDERS.get(child.get("gender") or "", child.get("gender"))),
                 ("Ethnicity", child.get("ethnicity")),
                 ("NHS number", child.get("nhs_number")),
                 ("Council child id", child.get("council_child_id")),
                 ("Find the child by", _match(child)),
                 ("Unaccompanied asylum-seeking child", "Yes" if child.get("uasc") else None),
                 ("Description", child.get("description")),
                 ("Clothing", child.get("clothing")),
                 ("Photograph reference", child.get("photograph_ref")),
                 ("Home address", _address(child.get("home_address")))),
        _section("Missing",
                 ("Reported", _when(data.get("reported_at"))),
                 ("Last seen", _when(data.get("last_seen_at"))),
                 ("Last seen at", data.get("last_seen_place")),
                 ("Last seen with", data.get("last_seen_with")),
                 ("Missing from", _address(data.get("missing_from"))),
                 ("Circumstances", data.get("circumstances")),
                 ("Previous episodes", data.get("previous_episodes"))),
        _section("Risk",
                 ("Grade", GRADES.get(risk.get("grade") or "", risk.get("grade"))),
                 ("Assessed", _when(risk.get("assessed_at"))),
                 ("Factors", ", ".join(FACTORS.get(f, f) for f in risk.get("factors") or [])
                  or None),
                 ("Authorised by", risk.get("authorised_by")),
                 ("Rationale", risk.get("rationale"))),
        _section("Placement",
                 ("Type", PLACEMENTS.get(placement.get("type") or "", placement.get("type"))),
                 ("Legal status", LEGAL.get(placement.get("legal_status") or "",
                                            placement.get("legal_status"))),
                 ("Responsible authority", placement.get("responsible_authority")),
                 ("Address", _address(placement.get("address"))),
                 ("Confidential", "Yes" if placement.get("confidential") else None)),
        _section("People",
                 ("Reported by", _person(data.get("reporter"))),
                 ("Associates", "; ".join(_person(p) or "" for p in data.get("associates") or [])
                  or None),
                 ("Places frequented", "; ".join(data.get("places_frequented") or []) or None)),
        _section("Found",
                 ("Found", _when(found.get("found_at"))),
                 ("Found at", found.get("found_place")),
                 ("Found by", found.get("found_by")),
                 ("Returned to", found.get("returned_to")),
                 ("Prevention interview", None if not found else
                  ("Done" if found.get("prevention_interview_done") else
                   "Not done: " + (found.get("prevention_interview_reason") or
                                   "no reason recorded")))),
        _section("Return Home Interview",
                 ("Status", RHI_STATUS.get(extra.get("rhi_status", ""), extra.get("rhi_status"))),
                 ("Offered", YES_NO_NA.get(extra.get("rhi_offered", ""), extra.get("rhi_offered"))),
                 ("Accepted", YES_NO_NA.get(extra.get("rhi_accepted", ""),
                                            extra.get("rhi_accepted"))),
                 ("Offered on", _date(extra.get("rhi_offered_on"))),
                 ("Attempts", extra.get("rhi_attempts")),
                 ("Completed on", _date(extra.get("rhi_completed_on"))),
                 ("Completed by", extra.get("rhi_completed_by")),
                 ("Reason it was late", extra.get("rhi_late_reason")),
                 ("Withheld", extra.get("rhi_withheld"))),
        _section("Shareable summary" if event == "RHI_OUTCOME" else "Police summary",
                 ("Summary", data.get("summary"))),
        _section("Other information", *sorted(
            (key.replace("_", " ").capitalize(), value) for key, value in extra.items()
            if key != WITHHELD_KEY and key not in RHI_EXTRA_KEYS)),
    ]
    return sections


def _section(title: str, *rows: tuple[str, object]) -> Section:
    return Section(title, tuple((label, xml_text(value)) for label, value in rows
                                if value is not None and xml_text(value).strip() != ""))


def _when(value: object) -> str | None:
    """Return an ISO date-time as UK local time, e.g. `Tue 17 Mar 2026 10:00 GMT`."""
    if not isinstance(value, str):
        return None
    moment = datetime.fromisoformat(value).astimezone(UK_TIME)
    return moment.strftime("%a %d %b %Y %H:%M %Z")


def _date(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return date.fromisoformat(value).strftime("%d %b %Y")


def _day(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value).astimezone(UK_TIME).date()


def _birth(value: object, on: date | None) -> str | None:
    if not isinstance(value, str):
        return None
    born = date.fromisoformat(value)
    text = born.strftime("%d %b %Y")
    if on is not None:
        age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        text += f" (age {age})"
    return text


def _match(child: Mapping[str, Any]) -> str | None:
    """Say which key the council should match the child on (the one the copy offers)."""
    match = person_match(child)
    if match is None:
        return None
    if match.key is MatchKey.COUNCIL_CHILD_ID:
        return f"council child id {match.council_child_id}"
    if match.key is MatchKey.NHS_NUMBER:
        return f"NHS number {match.nhs_number}"
    return (f"name and date of birth ({match.family_name}, {match.given_name}, "
            f"{match.date_of_birth})")


def _address(value: object) -> str | None:
    if not isinstance(value, Mapping):
        return None
    parts = [*(value.get("lines") or []), value.get("postcode")]
    return ", ".join(str(p) for p in parts if p) or None


def _person(value: object) -> str | None:
    if not isinstance(value, Mapping):
        return None
    text = str(value.get("name") or "")
    if value.get("relationship"):
        text += f" ({value['relationship']})"
    if value.get("phone"):
        text += f", {value['phone']}"
    return text or None


def summary_text(summary: Summary) -> str:
    """Return the summary as plain text (UTF-8, LF line ends)."""
    lines = [MARKING, summary.title, "-" * len(summary.title), ""]
    for alert in summary.alerts:
        lines.append(f"!! {alert}")
    if summary.alerts:
        lines.append("")
    for section in summary.sections:
        lines.append(section.title)
        for label, value in section.rows:
            first, *rest = value.splitlines() or [""]
            lines.append(f"  {label}: {first}")
            lines.extend(f"    {more}" for more in rest)
        lines.append("")
    lines += ["What happens next",
              f"  For: {summary.next_action.team.replace('_', ' ')}",
              f"  {summary.next_action.text}", "",
              f"Sent by the missing-children gateway ({summary.profile} copy). {MARKING}."]
    return "\n".join(lines) + "\n"


def summary_html(summary: Summary) -> str:
    """Return the summary as a small HTML document; every value is HTML-escaped."""
    e = _escape
    out = ['<!DOCTYPE html>', '<html lang="en-GB">', "<head>", '<meta charset="utf-8">',
           f"<title>{e(summary.title)}</title>", "</head>", "<body>",
           f"<p><strong>{e(MARKING)}</strong></p>", f"<h1>{e(summary.title)}</h1>"]
    for alert in summary.alerts:
        out.append(f'<p class="alert"><strong>{e(alert)}</strong></p>')
    for section in summary.sections:
        out.append(f"<h2>{e(section.title)}</h2>")
        out.append("<table>")
        out.extend(f'<tr><th scope="row">{e(label)}</th><td>{e(value)}</td></tr>'
                   for label, value in section.rows)
        out.append("</table>")
    out += ["<h2>What happens next</h2>",
            f"<p>For: {e(summary.next_action.team.replace('_', ' '))}</p>",
            f"<p>{e(summary.next_action.text)}</p>",
            f"<p>Sent by the missing-children gateway ({e(summary.profile)} copy). "
            f"{e(MARKING)}.</p>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _escape(value: str) -> str:
    return html.escape(value, quote=True).replace("\n", "<br>\n")


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def document_name(data: Mapping[str, Any], suffix: str = ".txt") -> str:
    """Return a safe file name for the attached summary of one notification."""
    reference = _UNSAFE_NAME.sub("-", str(data.get("police_reference", "notification")))
    return f"summary-{reference}-{data.get('event')}-r{data.get('revision', 1)}{suffix}"
