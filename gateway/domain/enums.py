"""Closed vocabularies of the canonical model (DOMAIN.md §2-§4)."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """What a notification says happened (DOMAIN.md §2)."""

    MISSING_REPORTED = "MISSING_REPORTED"
    UPDATE = "UPDATE"
    RISK_REGRADED = "RISK_REGRADED"
    FOUND = "FOUND"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"
    AWAY_FROM_PLACEMENT = "AWAY_FROM_PLACEMENT"
    RHI_OUTCOME = "RHI_OUTCOME"
    PLACEMENT_NOTICE = "PLACEMENT_NOTICE"


POLICE_EVENTS = frozenset(
    {
        EventType.MISSING_REPORTED,
        EventType.UPDATE,
        EventType.RISK_REGRADED,
        EventType.FOUND,
        EventType.CLOSED,
        EventType.CANCELLED,
    }
)


class RiskGrade(StrEnum):
    """The national risk continuum (College of Policing APP); areas restrict it (DOMAIN.md §3)."""

    NO_APPARENT_RISK = "NO_APPARENT_RISK"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class RiskFactor(StrEnum):
    """Risk factors a missing report may carry (DOMAIN.md §2)."""

    CSE = "CSE"
    CCE = "CCE"
    TRAFFICKING = "TRAFFICKING"
    SELF_HARM = "SELF_HARM"
    MEDICAL_NEEDS = "MEDICAL_NEEDS"
    MENTAL_HEALTH = "MENTAL_HEALTH"
    GANGS = "GANGS"
    SUBSTANCE_USE = "SUBSTANCE_USE"


class PlacementType(StrEnum):
    """Where the child lives: at home, or a kind of care placement."""

    HOME = "HOME"
    FOSTER = "FOSTER"
    RESIDENTIAL = "RESIDENTIAL"
    OTHER = "OTHER"


class LegalStatus(StrEnum):
    """The child's legal status (DOMAIN.md §2)."""

    NONE = "NONE"
    CHILD_IN_NEED = "CHILD_IN_NEED"
    CP_PLAN = "CP_PLAN"
    S20 = "S20"
    S31 = "S31"
    S38 = "S38"
    S21 = "S21"
    REMAND = "REMAND"


LOOKED_AFTER_STATUSES = frozenset(
    {LegalStatus.S20, LegalStatus.S31, LegalStatus.S38, LegalStatus.S21, LegalStatus.REMAND}
)


class Gender(StrEnum):
    """Gender as recorded by police (NPCC POLE person codes)."""

    MALE = "M"
    FEMALE = "F"
    INDETERMINATE = "I"
    NOT_KNOWN = "U"


class EthnicityCode(StrEnum):
    """Self-defined ethnicity, the 18+1 census codes police record."""

    W1 = "W1"
    W2 = "W2"
    W3 = "W3"
    W9 = "W9"
    M1 = "M1"
    M2 = "M2"
    M3 = "M3"
    M9 = "M9"
    A1 = "A1"
    A2 = "A2"
    A3 = "A3"
    A4 = "A4"
    A9 = "A9"
    B1 = "B1"
    B2 = "B2"
    B9 = "B9"
    O1 = "O1"
    O9 = "O9"
    NS = "NS"


class EpisodeState(StrEnum):
    """Where a missing episode stands: missing → found → closed, or cancelled."""

    MISSING = "MISSING"
    FOUND = "FOUND"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


class RecipientRole(StrEnum):
    """Why a council gets a copy: to act on it, or for information."""

    ACTION = "ACTION"
    INFORMATION = "INFORMATION"


class InboundStatus(StrEnum):
    """What became of an inbound message."""

    RECEIVED = "RECEIVED"
    PROCESSED = "PROCESSED"
    DUPLICATE = "DUPLICATE"
    SUPERSEDED = "SUPERSEDED"  # an older revision after a newer one: recorded, not applied
    HELD = "HELD"  # waiting for the missing report it follows
    QUARANTINED = "QUARANTINED"


class DeliveryStatus(StrEnum):
    """Where one copy to one recipient stands."""

    PENDING = "PENDING"
    SENDING = "SENDING"
    SENT = "SENT"
    HELD = "HELD"
