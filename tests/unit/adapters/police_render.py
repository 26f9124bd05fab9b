"""Test-side writers of the two police formats: canonical Notification → COMPACT / Niche XML.

An independent oracle for the adapters: the code tables here are written out again from the
format READMEs rather than read from the adapters' mapping files, so a wrong entry in either
shows up as a round-trip failure.
"""

from __future__ import annotations

from datetime import date, datetime

from lxml import etree

from gateway.domain.enums import EventType, LegalStatus, PlacementType, RiskFactor, RiskGrade
from gateway.domain.model import Address, Notification, Person

COMPACT_EVENTS = {
    EventType.MISSING_REPORTED: "NEW_MISSING",
    EventType.UPDATE: "UPDATE",
    EventType.RISK_REGRADED: "RISK_REVIEW",
    EventType.FOUND: "LOCATED",
    EventType.CLOSED: "CLOSED",
    EventType.CANCELLED: "CANCELLED",
}
COMPACT_PLACEMENTS = {
    PlacementType.HOME: "PARENTAL_HOME",
    PlacementType.FOSTER: "FOSTER_CARE",
    PlacementType.RESIDENTIAL: "CHILDRENS_HOME",
    PlacementType.OTHER: "OTHER",
}
COMPACT_LEGAL = {
    LegalStatus.NONE: "NONE",
    LegalStatus.CHILD_IN_NEED: "CIN",
    LegalStatus.CP_PLAN: "CPP",
    LegalStatus.S20: "S20",
    LegalStatus.S31: "S31",
    LegalStatus.S38: "S38",
    LegalStatus.S21: "S21",
    LegalStatus.REMAND: "RLAA",
}
COMPACT_RISK = {
    RiskGrade.NO_APPARENT_RISK: "No apparent risk",
    RiskGrade.LOW: "Low",
    RiskGrade.MEDIUM: "Medium",
    RiskGrade.HIGH: "High",
}
COMPACT_FACTORS = {
    RiskFactor.CSE: "CSE",
    RiskFactor.CCE: "CCE",
    RiskFactor.TRAFFICKING: "TRAFFICKING",
    RiskFactor.SELF_HARM: "SELF_HARM",
    RiskFactor.MEDICAL_NEEDS: "MEDICAL",
    RiskFactor.MENTAL_HEALTH: "MENTAL_HEALTH",
    RiskFactor.GANGS: "GANGS",
    RiskFactor.SUBSTANCE_USE: "SUBSTANCES",
}

NICHE_EVENTS = {
    EventType.MISSING_REPORTED: "MP01",
    EventType.UPDATE: "MP02",
    EventType.RISK_REGRADED: "MP03",
    EventType.FOUND: "MP04",
    EventType.CLOSED: "MP05",
    EventType.CANCELLED: "MP09",
}
NICHE_PLACEMENTS = {
    PlacementType.HOME: "PH",
    PlacementType.FOSTER: "FC",
    PlacementType.RESIDENTIAL: "CH",
    PlacementType.OTHER: "OT",
}
NICHE_LEGAL = {
    LegalStatus.NONE: "NA",
    LegalStatus.CHILD_IN_NEED: "CIN",
    LegalStatus.CP_PLAN: "CPP",
    LegalStatus.S20: "V2",
    LegalStatus.S31: "C2",
    LegalStatus.S38: "C1",
    LegalStatus.S21: "E1",
    LegalStatus.REMAND: "J1",
}
NICHE_RISK = {
    RiskGrade.NO_APPARENT_RISK: "A",
    RiskGrade.LOW: "L",
    RiskGrade.MEDIUM: "M",
    RiskGrade.HIGH: "H",
}
NICHE_FACTORS = {
    RiskFactor.CSE: "CSE",
    RiskFactor.CCE: "CCE",
    RiskFactor.TRAFFICKING: "HT",
    RiskFactor.SELF_HARM: "SH",
    RiskFactor.MEDICAL_NEEDS: "MED",
    RiskFactor.MENTAL_HEALTH: "MH",
    RiskFactor.GANGS: "GANG",
    RiskFactor.SUBSTANCE_USE: "DRG",
}


def _iso(value: datetime | date) -> str:
    """Write a date or date-time in ISO 8601."""
    return value.isoformat()


def _bool(value: bool) -> str:
    """Write an XSD boolean."""
    return "true" if value else "false"


def _yn(value: bool) -> str:
    """Write a Niche Y/N indicator."""
    return "Y" if value else "N"


def _attrs(element: etree._Element, **values: str | None) -> None:
    """Set the attributes whose values are not None."""
    for key, value in values.items():
        if value is not None:
            element.set(key, value)


def _text(parent: etree._Element, tag: str, value: str | None) -> None:
    """Append a text child element unless the value is None."""
    if value is not None:
        etree.SubElement(parent, tag).text = value


def _compact_address(parent: etree._Element, tag: str, address: Address | None) -> None:
    """Append a COMPACT address element."""
    if address is None:
        return
    element = etree.SubElement(parent, tag)
    _attrs(element, postcode=address.postcode)
    for line in address.lines:
        _text(element, "AddressLine", line)


def _compact_contact(parent: etree._Element, tag: str, person: Person) -> None:
    """Append a COMPACT contact (informant or associate) element."""
    element = etree.SubElement(parent, tag)
    _attrs(element, name=person.name, relationship=person.relationship, telephone=person.phone)


def to_compact(n: Notification) -> bytes:
    """Write `n` as a COMPACT MissingPersonNotification document."""
    root = etree.Element("MissingPersonNotification")
    _attrs(
        root,
        schemaVersion="1.0",
        notificationType=COMPACT_EVENTS[n.event],
        forceCode=n.force,
        caseReference=n.police_reference,
        revision=str(n.revision),
        incidentNumber=n.incident_number,
        issued=_iso(n.occurred_at),
    )
    if n.child is not None:
        c = n.child
        subject = etree.SubElement(root, "Subject")
        _attrs(
            subject,
            forename=c.given_name,
            surname=c.family_name,
            dateOfBirth=_iso(c.date_of_birth),
            sex=c.gender.value,
            selfDefinedEthnicity=c.ethnicity.value if c.ethnicity else None,
            nhsNumber=c.nhs_number,
            localAuthorityChildId=c.council_child_id,
            unaccompaniedAsylumSeeker=_bool(c.uasc),
        )
        _text(subject, "PhysicalDescription", c.description)
        _text(subject, "Clothing", c.clothing)
        _text(subject, "PhotographReference", c.photograph_ref)
        _compact_address(subject, "HomeAddress", c.home_address)
    if n.placement is not None:
        p = n.placement
        placement = etree.SubElement(root, "Placement")
        _attrs(
            placement,
            category=COMPACT_PLACEMENTS[p.type],
            legalStatus=COMPACT_LEGAL[p.legal_status],
            responsibleAuthority=p.responsible_authority,
            confidential=_bool(p.confidential),
        )
        _compact_address(placement, "Address", p.address)
    report = etree.SubElement(root, "Report")
    _attrs(
        report,
        reportedAt=_iso(n.reported_at) if n.reported_at else None,
        lastSeenAt=_iso(n.last_seen_at) if n.last_seen_at else None,
        previousEpisodes=None if n.previous_episodes is None else str(n.previous_episodes),
        parentsNotInformed=_bool(n.parents_not_told),
    )
    _text(report, "LastSeenLocation", n.last_seen_place)
    _text(report, "LastSeenWith", n.last_seen_with)
    _compact_address(report, "MissingFrom", n.missing_from)
    _text(report, "Circumstances", n.circumstances)
    if n.reporter is not None:
        _compact_contact(report, "Informant", n.reporter)
    for associate in n.associates:
        _compact_contact(report, "Associate", associate)
    for place in n.places_frequented:
        _text(report, "PlaceFrequented", place)
    if n.risk is not None:
        r = n.risk
        risk = etree.SubElement(root, "Risk")
        _attrs(
            risk,
            level=COMPACT_RISK[r.grade],
            assessedAt=_iso(r.assessed_at),
            authorisedBy=r.authorised_by,
        )
        for factor in r.factors:
            etree.SubElement(risk, "Factor").set("code", COMPACT_FACTORS[factor])
        _text(risk, "Rationale", r.rationale)
        _text(risk, "Medication", n.extra.get("medication"))
    if n.found is not None:
        f = n.found
        located = etree.SubElement(root, "Located")
        _attrs(
            located,
            at=_iso(f.found_at),
            by=f.found_by,
            preventionInterviewDone=_bool(f.prevention_interview_done),
        )
        _text(located, "Place", f.found_place)
        _text(located, "ReturnedTo", f.returned_to)
        _text(located, "InterviewNotDoneReason", f.prevention_interview_reason)
    _text(root, "Narrative", n.summary)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _niche_location(parent: etree._Element, tag: str, address: Address | None) -> None:
    """Append a Niche location element."""
    if address is None:
        return
    element = etree.SubElement(parent, tag)
    for line in address.lines:
        _text(element, "LocationLine", line)
    _text(element, "PostCode", address.postcode)


def _niche_person(parent: etree._Element, involvement: str, person: Person) -> None:
    """Append a Niche nominal for a reporter or associate."""
    nominal = etree.SubElement(parent, "Nominal", involvement=involvement)
    forename, _, surname = person.name.rpartition(" ")
    _text(nominal, "Surname", surname)
    _text(nominal, "Forename1", forename or None)
    _text(nominal, "RelationshipToSubject", person.relationship)
    _text(nominal, "ContactNumber", person.phone)


def to_niche(n: Notification) -> bytes:
    """Write `n` as a Niche OccurrenceEnquiry document (default variant)."""
    root = etree.Element("OccurrenceEnquiry", formatVersion="1.0")
    header = etree.SubElement(root, "EnquiryHeader")
    _text(header, "OrgUnitCode", n.force)
    _text(header, "OccurrenceNumber", n.police_reference)
    _text(header, "LinkedIncident", n.incident_number)
    _text(header, "TransactionCode", NICHE_EVENTS[n.event])
    _text(header, "SequenceNo", str(n.revision))
    _text(header, "TransactionDateTime", _iso(n.occurred_at))
    occurrence = etree.SubElement(root, "MissingOccurrence")
    _text(occurrence, "ReportedDateTime", _iso(n.reported_at) if n.reported_at else None)
    _text(occurrence, "LastSeenDateTime", _iso(n.last_seen_at) if n.last_seen_at else None)
    _text(occurrence, "LastSeenLocationText", n.last_seen_place)
    _text(occurrence, "LastSeenInCompanyOf", n.last_seen_with)
    _niche_location(occurrence, "MissingFromLocation", n.missing_from)
    _text(occurrence, "CircumstancesText", n.circumstances)
    if n.previous_episodes is not None:
        _text(occurrence, "PreviousMisperCount", str(n.previous_episodes))
    _text(occurrence, "ParentsNotNotifiedInd", _yn(n.parents_not_told))
    for place in n.places_frequented:
        _text(occurrence, "FrequentedLocation", place)
    _text(occurrence, "SummaryText", n.summary)
    nominals = etree.Element("Nominals")
    if n.child is not None:
        c = n.child
        subject = etree.SubElement(nominals, "Nominal", involvement="SUBJ")
        _text(subject, "Surname", c.family_name)
        _text(subject, "Forename1", c.given_name)
        _text(subject, "BirthDate", _iso(c.date_of_birth))
        _text(subject, "GenderCode", c.gender.value)
        _text(subject, "SelfDefinedEthnicityCode", c.ethnicity.value if c.ethnicity else None)
        _text(subject, "NHSNumber", c.nhs_number)
        _text(subject, "LocalAuthorityRef", c.council_child_id)
        _text(subject, "UASCInd", _yn(c.uasc))
        _text(subject, "DescriptionText", c.description)
        _text(subject, "ClothingText", c.clothing)
        _text(subject, "ImageRef", c.photograph_ref)
        _niche_location(subject, "HomeLocation", c.home_address)
    if n.reporter is not None:
        _niche_person(nominals, "INFT", n.reporter)
    for associate in n.associates:
        _niche_person(nominals, "ASSOC", associate)
    if len(nominals):
        root.append(nominals)
    if n.placement is not None:
        p = n.placement
        care = etree.SubElement(root, "CareDetails")
        _text(care, "AccommodationCode", NICHE_PLACEMENTS[p.type])
        _text(care, "LegalStatusCode", NICHE_LEGAL[p.legal_status])
        _text(care, "ResponsibleLA", p.responsible_authority)
        _text(care, "ConfidentialInd", _yn(p.confidential))
        _niche_location(care, "PlacementLocation", p.address)
    if n.risk is not None:
        r = n.risk
        risk = etree.SubElement(root, "RiskAssessment")
        _text(risk, "RiskLevelCode", NICHE_RISK[r.grade])
        _text(risk, "AssessedDateTime", _iso(r.assessed_at))
        _text(risk, "AuthorisingOfficer", r.authorised_by)
        _text(risk, "RationaleText", r.rationale)
        for factor in r.factors:
            _text(risk, "RiskFactorCode", NICHE_FACTORS[factor])
        _text(risk, "MedicationText", n.extra.get("medication"))
    if n.found is not None:
        f = n.found
        trace = etree.SubElement(root, "TraceDetails")
        _text(trace, "TracedDateTime", _iso(f.found_at))
        _text(trace, "TracedLocationText", f.found_place)
        _text(trace, "TracedBy", f.found_by)
        _text(trace, "ReturnedToText", f.returned_to)
        _text(trace, "SafeWellCheckInd", _yn(f.prevention_interview_done))
        _text(trace, "SafeWellNotDoneReason", f.prevention_interview_reason)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
