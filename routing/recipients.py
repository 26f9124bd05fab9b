"""Decide who receives a notification, in which role, by which channel, and why (DOMAIN.md §4).

`route` is pure: it reads the notification, what the episode already sent (`EpisodeHistory`),
the directory, a postcode lookup and an injected `now`, and returns a `RoutingDecision`. It
never returns an empty decision: when nobody can be found it returns a coordinator item.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from gateway.domain.enums import EventType, LegalStatus, RecipientRole, RiskGrade
from gateway.domain.model import Address, Child, Notification, Placement
from gateway.domain.routing import CoordinatorItem, Recipient, RoutingDecision
from routing.calendars import bank_holiday_name, is_office_hours, next_working_day_start, to_local
from routing.directory import (
    EDT,
    FRONT_DOOR,
    IRO_SERVICE,
    MISSING_COORDINATOR,
    POLICE_FEEDBACK,
    RHI_SERVICE,
    YOUTH_JUSTICE,
    Authority,
    Directory,
    RiskRules,
)
from routing.placement import Located, PlacementResolution, PostcodeLookup, resolve_placement

# Minimisation profile names (routing.minimisation.PROFILES holds what each may see).
PROFILE_HOME_ACTION = "home_action"
PROFILE_RESPONSIBLE_ACTION = "responsible_action"
PROFILE_HOST_ACTION = "host_action"
PROFILE_HOST_INFORMATION = "host_information"
PROFILE_IRO = "iro"
PROFILE_YOUTH_JUSTICE = "youth_justice"
PROFILE_POLICE_RHI_FEEDBACK = "police_rhi_feedback"
PROFILE_RHI_SHARE = "rhi_share"
PROFILE_PLACEMENT_NOTICE = "placement_notice"

ITEM_NO_CHANNEL = "no_channel"
ITEM_RISK_GRADE_HOLD = "risk_grade_hold"
ITEM_RISK_GRADE_FLAG = "risk_grade_flag"
ITEM_UNKNOWN_FORCE = "unknown_force"

# Events after which the IRO, the Youth Justice Service and a host's RHI service are told.
_MISSING_AND_RETURN = frozenset({EventType.MISSING_REPORTED, EventType.FOUND})
_POLICE_EVENTS = frozenset(
    {
        EventType.MISSING_REPORTED,
        EventType.UPDATE,
        EventType.RISK_REGRADED,
        EventType.FOUND,
        EventType.CLOSED,
        EventType.CANCELLED,
    }
)


@dataclass(frozen=True)
class PriorRecipient:
    """Someone who already received a copy in this episode."""

    authority: str
    team: str
    role: RecipientRole


@dataclass(frozen=True)
class EpisodeHistory:
    """What routing needs to know of the episode so far (built by the service layer)."""

    recipients: tuple[PriorRecipient, ...] = ()
    child: Child | None = None
    placement: Placement | None = None
    missing_from: Address | None = None
    responsible_authority: str | None = None  # from a placement notice on file

    @classmethod
    def from_decisions(
        cls,
        decisions: Iterable[RoutingDecision],
        *,
        child: Child | None = None,
        placement: Placement | None = None,
        missing_from: Address | None = None,
        responsible_authority: str | None = None,
    ) -> EpisodeHistory:
        """Build the history from the decisions already made for the episode."""
        seen: dict[tuple[str, str], PriorRecipient] = {}
        for decision in decisions:
            for r in decision.recipients:
                key = (r.authority, r.team)
                if key not in seen or r.role is RecipientRole.ACTION:
                    seen[key] = PriorRecipient(r.authority, r.team, r.role)
        return cls(
            recipients=tuple(seen.values()),
            child=child,
            placement=placement,
            missing_from=missing_from,
            responsible_authority=responsible_authority,
        )


@dataclass
class _Draft:
    """The decision being assembled: recipients keyed by (authority, team), items, notes."""

    now: datetime
    recipients: dict[tuple[str, str], Recipient] = field(default_factory=dict)
    items: list[CoordinatorItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, recipient: Recipient) -> None:
        """Add a recipient; one copy per (authority, team), ACTION outranking INFORMATION."""
        key = (recipient.authority, recipient.team)
        existing = self.recipients.get(key)
        if existing is None or (
            existing.role is RecipientRole.INFORMATION and recipient.role is RecipientRole.ACTION
        ):
            self.recipients[key] = recipient

    def item(self, kind: str, message: str, authority: str | None = None) -> None:
        self.items.append(CoordinatorItem(kind=kind, message=message, authority=authority))
        self.notes.append(f"coordinator item ({kind}): {message}")

    def decision(self) -> RoutingDecision:
        if not self.recipients and not self.items:
            self.item("no_route", "no rule gave a recipient: route by hand")
        return RoutingDecision(
            recipients=tuple(self.recipients.values()),
            items=tuple(self.items),
            explanation=tuple(self.notes),
        )


def route(
    notification: Notification,
    history: EpisodeHistory | None,
    directory: Directory,
    postcodes: PostcodeLookup,
    now: datetime,
) -> RoutingDecision:
    """Decide every recipient of `notification` at time `now`; never returns an empty decision."""
    history = history or EpisodeHistory()
    draft = _Draft(now=now)
    draft.notes.append(
        f"{notification.event.value} from {notification.force} ref {notification.police_reference}"
        f" at {_when(now)}"
    )
    resolution = resolve_placement(
        child=notification.child or history.child,
        placement=notification.placement or history.placement,
        missing_from=notification.missing_from or history.missing_from,
        directory=directory,
        postcodes=postcodes,
        known_responsible=history.responsible_authority,
        force_id=notification.force,
    )
    draft.notes.extend(resolution.notes)
    draft.items.extend(resolution.items)
    event = notification.event
    if event in _POLICE_EVENTS:
        _police_event(notification, resolution, history, directory, draft)
        _check_risk(notification, resolution, directory, draft)
    elif event is EventType.AWAY_FROM_PLACEMENT:
        _away_from_placement(resolution, draft)
    elif event is EventType.RHI_OUTCOME:
        _rhi_outcome(notification, resolution, directory, draft)
    elif event is EventType.PLACEMENT_NOTICE:
        _placement_notice(resolution, draft)
    return replace(
        draft.decision(),
        home=resolution.home.authority.id if resolution.home else None,
        responsible=resolution.responsible.authority.id if resolution.responsible else None,
        host=resolution.host.authority.id if resolution.host else None,
    )


def _police_event(
    notification: Notification,
    resolution: PlacementResolution,
    history: EpisodeHistory,
    directory: Directory,
    draft: _Draft,
) -> None:
    """Missing, update, regrade, found, closed, cancelled: action, information, IRO, YJ."""
    event = notification.event
    owner = _owner(resolution)
    if not resolution.looked_after and resolution.home is not None:
        _action(resolution.home, PROFILE_HOME_ACTION, draft)
    if resolution.looked_after:
        if resolution.responsible is not None:
            _action(resolution.responsible, PROFILE_RESPONSIBLE_ACTION, draft)
        if resolution.host is not None and resolution.responsible is None:
            _action(
                Located(
                    resolution.host.authority,
                    resolution.host.reason
                    + "; action copy as the responsible authority is not known (001 L194)",
                ),
                PROFILE_HOST_ACTION,
                draft,
            )
        elif resolution.placed_out_of_area and resolution.host is not None:
            _host_information(resolution.host, event, draft)
        elif resolution.responsible is not None and resolution.host is not None:
            draft.notes.append(
                f"placed inside its own authority ({resolution.responsible.authority.name}): "
                "no host copy (000 §6.2.11)"
            )
    if owner is not None and event in _MISSING_AND_RETURN:
        if resolution.looked_after and resolution.responsible is not None:
            _team_copy(
                resolution.responsible.authority,
                IRO_SERVICE,
                RecipientRole.INFORMATION,
                PROFILE_IRO,
                "IRO of a child in care: told of every missing and return event "
                "(003 L322; 004 L546)",
                draft,
            )
        placement = notification.placement or history.placement
        if placement is not None and placement.legal_status is LegalStatus.REMAND:
            _team_copy(
                owner,
                YOUTH_JUSTICE,
                RecipientRole.INFORMATION,
                PROFILE_YOUTH_JUSTICE,
                _absconder_reason(notification, history),
                draft,
            )
    # Everyone who had the missing report gets what follows, amendments included.
    _found_follows_missing(event, history, directory, draft)


def _owner(resolution: PlacementResolution) -> Authority | None:
    """Return the authority that owns the child's case: responsible, else home, else host."""
    for located in (resolution.responsible, resolution.home, resolution.host):
        if located is not None:
            return located.authority
    return None


def _action(located: Located, profile: str, draft: _Draft) -> None:
    """Send the action copy: front door in office hours, else EDT plus a next-day copy."""
    authority = located.authority
    now = draft.now
    if is_office_hours(authority, now):
        _team_copy(
            authority,
            FRONT_DOOR,
            RecipientRole.ACTION,
            profile,
            f"{located.reason}; in office hours ({_when(now)}): front door",
            draft,
        )
    else:
        opens = next_working_day_start(authority, now)
        why_closed = _closed_reason(authority, now)
        if authority.channel(EDT) is not None:
            _team_copy(
                authority,
                EDT,
                RecipientRole.ACTION,
                profile,
                f"{located.reason}; out of office hours ({why_closed}): Emergency Duty Team "
                "(000 §6.2.11; 003 L358)",
                draft,
            )
            front_door_role = RecipientRole.INFORMATION
        else:
            draft.item(
                ITEM_NO_CHANNEL,
                f"{authority.name} has no EDT channel: out-of-hours copy sent to the front door",
                authority.id,
            )
            front_door_role = RecipientRole.ACTION
        _team_copy(
            authority,
            FRONT_DOOR,
            front_door_role,
            profile,
            f"{located.reason}; next-working-day copy to the front door for "
            f"{_when(opens)} (000 §6.2.11)",
            draft,
        )
    if authority.channel(MISSING_COORDINATOR) is not None:
        _team_copy(
            authority,
            MISSING_COORDINATOR,
            RecipientRole.INFORMATION,
            profile,
            f"{located.reason}; the missing coordinator triages every notification "
            "(001 L188; 002 L267; 003 L494)",
            draft,
        )


def _host_information(host: Located, event: EventType, draft: _Draft) -> None:
    """Copy for information to the host's missing lead and, if it does them, RHI service."""
    authority = host.authority
    team = MISSING_COORDINATOR if authority.channel(MISSING_COORDINATOR) else FRONT_DOOR
    _team_copy(
        authority,
        team,
        RecipientRole.INFORMATION,
        PROFILE_HOST_INFORMATION,
        f"{host.reason}; information copy to the host authority (000 §6.2.3, §6.2.12; 004 L558)",
        draft,
    )
    if event in _MISSING_AND_RETURN and authority.rules.rhi.does_rhi_for_placed_in:
        _team_copy(
            authority,
            RHI_SERVICE,
            RecipientRole.INFORMATION,
            PROFILE_HOST_INFORMATION,
            f"{host.reason}; {authority.name} does return interviews for children placed in "
            "its area (003 L490; 000 L338)",
            draft,
        )


def _team_copy(
    authority: Authority,
    team: str,
    role: RecipientRole,
    profile: str,
    reason: str,
    draft: _Draft,
) -> None:
    """Add a copy to one team, or a coordinator item when the team has no channel."""
    channel = authority.channel(team)
    if channel is None:
        if team in (FRONT_DOOR, EDT, MISSING_COORDINATOR):
            draft.item(
                ITEM_NO_CHANNEL,
                f"{authority.name} has no {team} channel: {reason}",
                authority.id,
            )
            return
        draft.notes.append(f"{authority.name} registers no {team} channel: not told ({reason})")
        return
    draft.add(
        Recipient(
            authority=authority.id,
            team=team,
            role=role,
            channel=channel,
            reason=reason,
            profile=profile,
        )
    )


def _found_follows_missing(
    event: EventType, history: EpisodeHistory, directory: Directory, draft: _Draft
) -> None:
    """Send a later event to everyone who had the missing report (001 L392; 003 L438)."""
    for prior in history.recipients:
        if prior.team == POLICE_FEEDBACK:
            continue
        key = (prior.authority, prior.team)
        if key in draft.recipients:
            existing = draft.recipients[key]
            if existing.role is RecipientRole.INFORMATION and prior.role is RecipientRole.ACTION:
                draft.recipients[key] = Recipient(
                    existing.authority,
                    existing.team,
                    RecipientRole.ACTION,
                    existing.channel,
                    existing.reason + "; action copy as for the missing report",
                    existing.profile,
                )
            continue
        authority = directory.authority(prior.authority)
        channel = authority.channel(prior.team) if authority is not None else None
        if authority is None or channel is None:
            draft.item(
                ITEM_NO_CHANNEL,
                f"{prior.authority} {prior.team} had the missing report but has no channel now",
                prior.authority,
            )
            continue
        draft.add(
            Recipient(
                authority=authority.id,
                team=prior.team,
                role=prior.role,
                channel=channel,
                reason=(
                    f"{_follows(event)} follows missing: {authority.name} {prior.team} received "
                    f"the missing report ({prior.role.value.lower()}) (001 L392; 003 L438)"
                ),
                profile=_profile_for_prior(prior),
            )
        )


def _follows(event: EventType) -> str:
    return {
        EventType.FOUND: "found",
        EventType.MISSING_REPORTED: "amended report",
    }.get(event, event.value.lower().replace("_", " "))


def _profile_for_prior(prior: PriorRecipient) -> str:
    if prior.team == IRO_SERVICE:
        return PROFILE_IRO
    if prior.team == YOUTH_JUSTICE:
        return PROFILE_YOUTH_JUSTICE
    if prior.role is RecipientRole.ACTION:
        return PROFILE_RESPONSIBLE_ACTION
    return PROFILE_HOST_INFORMATION


def _absconder_reason(notification: Notification, history: EpisodeHistory) -> str:
    child = notification.child or history.child
    base = "remanded child (absconder / unlawfully at large): Youth Justice Service told"
    if child is not None:
        age = child.age_on(to_local(notification.occurred_at).date())
        kind = "missing and absconder" if age < 16 else "absconder only unless other factors"
        base += f"; aged {age}: {kind}"
    return base + " (000 §6.3; 002 L489-493)"


def _away_from_placement(resolution: PlacementResolution, draft: _Draft) -> None:
    """Whereabouts known, no apparent risk: councils only, never police (000 §6.1.11)."""
    draft.notes.append("away from placement: never sent to police (000 §6.1.11; 002 L478)")
    if resolution.responsible is not None:
        _action(resolution.responsible, PROFILE_RESPONSIBLE_ACTION, draft)
    elif resolution.host is not None:
        _action(resolution.host, PROFILE_HOST_ACTION, draft)
    elif resolution.home is not None:
        _action(resolution.home, PROFILE_HOME_ACTION, draft)
    if resolution.placed_out_of_area and resolution.host is not None:
        _team_copy(
            resolution.host.authority,
            MISSING_COORDINATOR
            if resolution.host.authority.channel(MISSING_COORDINATOR)
            else FRONT_DOOR,
            RecipientRole.INFORMATION,
            PROFILE_HOST_INFORMATION,
            f"{resolution.host.reason}; placing and host authorities share away-from-placement "
            "episodes (004 L558)",
            draft,
        )


def _rhi_outcome(
    notification: Notification,
    resolution: PlacementResolution,
    directory: Directory,
    draft: _Draft,
) -> None:
    """Share an RHI outcome with police, the other council and the IRO (000 §8.8; 004 L562)."""
    force = directory.force(notification.force)
    if force is None or force.feedback_channel is None:
        draft.item(
            ITEM_UNKNOWN_FORCE,
            f"force {notification.force!r} has no feedback channel: share the RHI outcome by hand",
        )
    else:
        draft.add(
            Recipient(
                authority=force.id,
                team=POLICE_FEEDBACK,
                role=RecipientRole.INFORMATION,
                channel=force.feedback_channel,
                reason=(
                    f"RHI outcome shared with {force.name}, the force that recorded the episode "
                    "(000 §8.8; 002 L394; 003 L121-123)"
                ),
                profile=PROFILE_POLICE_RHI_FEEDBACK,
            )
        )
    done_by = directory.resolve(notification.extra.get("rhi_conducted_by"))
    responsible = resolution.responsible.authority if resolution.responsible else None
    host = resolution.host.authority if resolution.host else None
    if responsible is not None and host is not None and responsible.id != host.id:
        other = responsible if done_by is not None and done_by.id == host.id else host
        _team_copy(
            other,
            MISSING_COORDINATOR if other.channel(MISSING_COORDINATOR) else FRONT_DOOR,
            RecipientRole.INFORMATION,
            PROFILE_RHI_SHARE,
            f"RHI outcome shared with the {'responsible' if other is responsible else 'host'} "
            "authority (004 L562)",
            draft,
        )
    if resolution.looked_after and responsible is not None:
        _team_copy(
            responsible,
            IRO_SERVICE,
            RecipientRole.INFORMATION,
            PROFILE_IRO,
            "RHI outcome shared with the IRO of a child in care (000 L336)",
            draft,
        )


def _placement_notice(resolution: PlacementResolution, draft: _Draft) -> None:
    """Tell the host's missing lead of a child placed in its area (004 L552; 003 L300)."""
    if resolution.host is None:
        draft.item(
            "no_route",
            "placement notice without a host authority: send it by hand",
        )
        return
    if resolution.responsible is not None and not resolution.placed_out_of_area:
        draft.notes.append("placement inside the responsible authority: no host to notify")
        return
    host = resolution.host.authority
    _team_copy(
        host,
        MISSING_COORDINATOR if host.channel(MISSING_COORDINATOR) else FRONT_DOOR,
        RecipientRole.ACTION,
        PROFILE_PLACEMENT_NOTICE,
        f"{resolution.host.reason}; placement notice to the host's missing lead (004 L552)",
        draft,
    )


def _check_risk(
    notification: Notification,
    resolution: PlacementResolution,
    directory: Directory,
    draft: _Draft,
) -> None:
    """Raise an item when the risk grade is one the force or the owning council forbids."""
    if notification.risk is None:
        return
    grade = notification.risk.grade
    rules: list[tuple[str, str | None, RiskRules]] = []
    force = directory.force(notification.force)
    if force is not None:
        rules.append((force.name, None, force.risk))
    owner = _owner(resolution)
    if owner is not None:
        rules.append((owner.name, owner.id, owner.rules.risk))
    for name, authority_id, risk in rules:
        if grade not in risk.allowed_grades:
            kind = ITEM_RISK_GRADE_HOLD if risk.on_forbidden == "hold" else ITEM_RISK_GRADE_FLAG
            allowed = ", ".join(g.value for g in RiskGrade if g in risk.allowed_grades)
            draft.item(
                kind,
                f"risk grade {grade.value} is not allowed by {name} (allowed: {allowed}); "
                f"{risk.on_forbidden} (DOMAIN.md §3)",
                authority_id,
            )


def _closed_reason(authority: Authority, now: datetime) -> str:
    local = to_local(now)
    holiday = bank_holiday_name(authority.nation, local.date())
    if holiday is not None and local.weekday() in authority.office_hours.days:
        return f"{_when(now)}, {holiday} bank holiday in {authority.nation.replace('_', ' ')}"
    return _when(now)


def _when(moment: datetime) -> str:
    local = to_local(moment)
    return local.strftime("%a %d %b %Y %H:%M ") + (local.tzname() or "")
