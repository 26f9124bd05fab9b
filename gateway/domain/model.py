"""Canonical value objects: the child, placement, risk and the notification itself.

Every police format is translated into a `Notification`; every case-system format is
rendered from one. Field names follow DOMAIN.md §2 and the NPCC POLE standard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from gateway.domain.enums import (
    LOOKED_AFTER_STATUSES,
    EthnicityCode,
    EventType,
    Gender,
    LegalStatus,
    PlacementType,
    RiskFactor,
    RiskGrade,
)


@dataclass(frozen=True)
class Address:
    """A postal address; the postcode is what routing reads."""

    lines: tuple[str, ...] = ()
    postcode: str | None = None


@dataclass(frozen=True)
class Child:
    """Who is missing, as police identify them."""

    given_name: str
    family_name: str
    date_of_birth: date
    gender: Gender = Gender.NOT_KNOWN
    ethnicity: EthnicityCode | None = None
    nhs_number: str | None = None
    council_child_id: str | None = None
    uasc: bool = False
    description: str | None = None
    clothing: str | None = None
    photograph_ref: str | None = None
    home_address: Address | None = None

    def age_on(self, day: date) -> int:
        """Return the child's age in whole years on `day`."""
        years = day.year - self.date_of_birth.year
        if (day.month, day.day) < (self.date_of_birth.month, self.date_of_birth.day):
            years -= 1
        return years


@dataclass(frozen=True)
class Placement:
    """Where the child lives and under what legal status."""

    type: PlacementType
    legal_status: LegalStatus = LegalStatus.NONE
    address: Address | None = None
    responsible_authority: str | None = None
    confidential: bool = False

    @property
    def looked_after(self) -> bool:
        """Say whether the child is in care (any legal status that makes a council responsible)."""
        return self.legal_status in LOOKED_AFTER_STATUSES or self.type in (
            PlacementType.FOSTER,
            PlacementType.RESIDENTIAL,
        )


@dataclass(frozen=True)
class RiskAssessment:
    """One risk grading with who authorised it and why (kept as history, DOMAIN.md §2)."""

    grade: RiskGrade
    assessed_at: datetime
    factors: tuple[RiskFactor, ...] = ()
    authorised_by: str | None = None
    rationale: str | None = None


@dataclass(frozen=True)
class Person:
    """Someone named in a report: the reporter or an associate."""

    name: str
    relationship: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class FoundDetails:
    """What police record when the child is found (DOMAIN.md §2, FOUND)."""

    found_at: datetime
    found_place: str | None = None
    found_by: str | None = None
    returned_to: str | None = None
    prevention_interview_done: bool = False
    prevention_interview_reason: str | None = None


@dataclass(frozen=True)
class Notification:
    """One event about one missing episode, in the gateway's canonical form."""

    event: EventType
    force: str
    police_reference: str
    occurred_at: datetime
    revision: int = 1
    incident_number: str | None = None
    child: Child | None = None
    placement: Placement | None = None
    risk: RiskAssessment | None = None
    reported_at: datetime | None = None
    last_seen_at: datetime | None = None
    last_seen_place: str | None = None
    last_seen_with: str | None = None
    missing_from: Address | None = None
    circumstances: str | None = None
    associates: tuple[Person, ...] = ()
    places_frequented: tuple[str, ...] = ()
    reporter: Person | None = None
    previous_episodes: int | None = None
    parents_not_told: bool = False
    found: FoundDetails | None = None
    summary: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, int]:
        """Return the idempotency key (force, police reference, event, revision)."""
        return (self.force, self.police_reference, self.event.value, self.revision)
