"""The directory of authorities and forces: who they are, how to reach them, their rules.

Plain frozen dataclasses built once at start-up by `routing.directory_loader` from
config/<root>/authorities/*.yaml and forces/*.yaml. Routing reads them; nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from types import MappingProxyType
from typing import Literal

from gateway.domain.enums import RiskGrade
from gateway.domain.routing import Channel

Nation = Literal["england", "wales", "scotland", "northern_ireland"]
CaseSystem = Literal["mosaic", "liquidlogic", "secure_mail"]
OnForbidden = Literal["hold", "flag"]
RhiClockStart = Literal["return", "found_notice"]

NATIONS: tuple[str, ...] = ("england", "wales", "scotland", "northern_ireland")
CASE_SYSTEMS: tuple[str, ...] = ("mosaic", "liquidlogic", "secure_mail")

# Teams an authority may register a channel for (DOMAIN.md §1 "Inside a council").
FRONT_DOOR = "front_door"
EDT = "edt"
MISSING_COORDINATOR = "missing_coordinator"
RHI_SERVICE = "rhi_service"
IRO_SERVICE = "iro_service"
YOUTH_JUSTICE = "youth_justice"
TEAMS: tuple[str, ...] = (
    FRONT_DOOR,
    EDT,
    MISSING_COORDINATOR,
    RHI_SERVICE,
    IRO_SERVICE,
    YOUTH_JUSTICE,
)
# The pseudo-team a force's feedback channel is filed under in recipients.
POLICE_FEEDBACK = "police_feedback"


@dataclass(frozen=True)
class OfficeHours:
    """When the front door answers: weekdays (0 = Monday) and local start and end times."""

    days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    start: time = time(9, 0)
    end: time = time(17, 0)


@dataclass(frozen=True)
class RiskRules:
    """Which risk grades a party accepts and what happens to a forbidden one (DOMAIN.md §3)."""

    allowed_grades: frozenset[RiskGrade] = frozenset(RiskGrade)
    on_forbidden: OnForbidden = "hold"
    nar_cap_hours: int | None = None  # "no apparent risk" must be regraded after this


@dataclass(frozen=True)
class RhiRules:
    """Return Home Interview settings of one authority (DOMAIN.md §5)."""

    clock_start: RhiClockStart = "return"
    hours: int = 72
    # Grades for which a child NOT in care must be offered an RHI (in care: always).
    required_grades_not_looked_after: frozenset[RiskGrade] = frozenset(RiskGrade)
    does_rhi_for_placed_in: bool = False

    def required(self, *, looked_after: bool, grade: RiskGrade | None) -> bool:
        """Say whether a returning child must be offered an RHI (in care: always, 004 L544)."""
        if looked_after or grade is None:
            return True
        return grade in self.required_grades_not_looked_after


@dataclass(frozen=True)
class RepeatThreshold:
    """A repeat-missing trigger: `count` episodes within `days` raise item `item`."""

    count: int
    days: int
    item: str


@dataclass(frozen=True)
class AuthorityRules:
    """Per-authority rule settings; defaults come from config/defaults.yaml."""

    risk: RiskRules = field(default_factory=RiskRules)
    rhi: RhiRules = field(default_factory=RhiRules)
    repeat_missing: tuple[RepeatThreshold, ...] = ()
    strategy_discussion_hours_high: int = 48
    strategy_discussion_hours_other: int = 72
    ack_hours_high: float = 1.0
    ack_hours_other: float = 4.0
    police_notice_hours: int = 24
    first_update_hours: int = 48
    update_interval_days: int = 5

    def strategy_discussion_hours(self, grade: RiskGrade | None) -> int:
        """Return the hours within which a strategy discussion is due for `grade`."""
        if grade is RiskGrade.HIGH:
            return self.strategy_discussion_hours_high
        return self.strategy_discussion_hours_other

    def ack_hours(self, grade: RiskGrade | None) -> float:
        """Return the delivery acknowledgement deadline in hours for `grade`."""
        return self.ack_hours_high if grade is RiskGrade.HIGH else self.ack_hours_other


@dataclass(frozen=True)
class Authority:
    """One council's children's services: identity, codes, teams' channels, hours and rules."""

    id: str
    name: str
    gss_code: str  # ONS upper-tier code, e.g. E10000031
    la_code: str  # DfE local authority code, e.g. "937"
    nation: Nation = "england"
    case_system: CaseSystem = "secure_mail"
    aliases: tuple[str, ...] = ()
    teams: Mapping[str, Channel] = field(default_factory=lambda: MappingProxyType({}))
    office_hours: OfficeHours = field(default_factory=OfficeHours)
    rules: AuthorityRules = field(default_factory=AuthorityRules)
    protocol: str | None = None  # the local protocol cited in reasons, e.g. "Pan-Cheshire protocol"

    def channel(self, team: str) -> Channel | None:
        """Return the channel registered for `team`, or None if the authority has none."""
        return self.teams.get(team)


@dataclass(frozen=True)
class Force:
    """One police force: its export format, risk vocabulary, mapping overrides and feedback."""

    id: str
    name: str
    adapter: str  # "compact" | "niche"
    risk: RiskRules = field(default_factory=RiskRules)
    mapping: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    feedback_channel: Channel | None = None
    area_authorities: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    pull: Mapping[str, object] | None = None  # SFTP outbox the gateway polls, if any
    certificate: str | None = None  # signing certificate its protected messages must carry


def normalise_name(name: str) -> str:
    """Fold a council name for matching: lower case, '&' as 'and', no punctuation or spaces."""
    folded = name.lower().replace("&", " and ")
    folded = re.sub(r"[^a-z0-9]+", " ", folded)
    words = [w for w in folded.split() if w not in _NOISE_WORDS]
    return "".join(words)


# Words police add to council names that do not distinguish one council from another.
_NOISE_WORDS = frozenset({"the", "council", "borough", "city", "county", "metropolitan", "of"})


@dataclass(frozen=True)
class Directory:
    """All authorities and forces, indexed by id, GSS code and every name police use."""

    authorities: Mapping[str, Authority]
    forces: Mapping[str, Force]
    _by_gss: Mapping[str, str] = field(default_factory=dict, repr=False)
    _by_name: Mapping[str, str] = field(default_factory=dict, repr=False)
    _force_by_name: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, authorities: list[Authority], forces: list[Force]) -> Directory:
        """Index authorities and forces; raise ValueError on a duplicate id, code or alias."""
        by_id: dict[str, Authority] = {}
        by_gss: dict[str, str] = {}
        by_name: dict[str, str] = {}
        for authority in authorities:
            if authority.id in by_id:
                raise ValueError(f"authority id {authority.id!r} is defined twice")
            by_id[authority.id] = authority
            if authority.gss_code in by_gss:
                raise ValueError(
                    f"GSS code {authority.gss_code} belongs to both "
                    f"{by_gss[authority.gss_code]!r} and {authority.id!r}"
                )
            by_gss[authority.gss_code] = authority.id
            for key in _name_keys(authority):
                owner = by_name.setdefault(key, authority.id)
                if owner != authority.id:
                    raise ValueError(f"name {key!r} of {authority.id!r} already names {owner!r}")
        forces_by_id: dict[str, Force] = {}
        force_by_name: dict[str, str] = {}
        for force in forces:
            if force.id in forces_by_id:
                raise ValueError(f"force id {force.id!r} is defined twice")
            forces_by_id[force.id] = force
            for name in (force.id, force.name, *force.aliases):
                force_by_name.setdefault(normalise_name(name), force.id)
        return cls(
            authorities=MappingProxyType(by_id),
            forces=MappingProxyType(forces_by_id),
            _by_gss=MappingProxyType(by_gss),
            _by_name=MappingProxyType(by_name),
            _force_by_name=MappingProxyType(force_by_name),
        )

    def authority(self, authority_id: str) -> Authority | None:
        """Return the authority with this id, or None."""
        return self.authorities.get(authority_id)

    def by_gss(self, gss_code: str | None) -> Authority | None:
        """Return the authority whose upper-tier ONS code is `gss_code`, or None."""
        if not gss_code:
            return None
        authority_id = self._by_gss.get(gss_code.strip().upper())
        return self.authorities[authority_id] if authority_id else None

    def resolve(self, name: str | None) -> Authority | None:
        """Find an authority by id, name, alias, GSS code or DfE LA code as police write it."""
        if not name or not name.strip():
            return None
        text = name.strip()
        if text in self.authorities:
            return self.authorities[text]
        by_code = self.by_gss(text)
        if by_code is not None:
            return by_code
        authority_id = self._by_name.get(normalise_name(text))
        return self.authorities[authority_id] if authority_id else None

    def force(self, name: str | None) -> Force | None:
        """Find a force by id, name or alias."""
        if not name:
            return None
        if name in self.forces:
            return self.forces[name]
        force_id = self._force_by_name.get(normalise_name(name))
        return self.forces[force_id] if force_id else None


def _name_keys(authority: Authority) -> set[str]:
    """Return every folded name by which police may refer to `authority`."""
    keys = {normalise_name(n) for n in (authority.id, authority.name, *authority.aliases)}
    keys.add(authority.la_code)
    keys.discard("")
    return keys
