"""Return Home Interviews: who owes one, by when, the chase ladder, attempts and outcomes.

DOMAIN.md §5. On FOUND the responsible (or home) authority's rule sets the due time: 72 h
from the child's return or from receipt of the found notice. The host does it for a child
placed in its area where the directory says so (`does_rhi_for_placed_in`); otherwise the
responsible authority does, and the host chases it for a copy (001 L392).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.enums import RiskGrade
from gateway.domain.routing import CoordinatorItem
from gateway.pipeline import AppliedEvent
from gateway.store.models import ClockRow, EpisodeRow, new_id
from gateway.store.tracking_models import RhiAttemptRow, RhiRow, TrackedEpisodeRow
from gateway.tracking import clocks
from gateway.tracking.chase import Target, chase
from gateway.tracking.clocks import Fired, Handler, bound
from gateway.tracking.context import TrackingContext
from gateway.tracking.timing import after_days, after_hours, at_next_opening, office_time_before
from routing.calendars import to_local
from routing.directory import FRONT_DOOR, MISSING_COORDINATOR, RHI_SERVICE

SUBJECT = "episode"  # one RHI per episode: its clocks hang on the episode, as others read them
REMINDER = "rhi_reminder"
BREACH = "rhi_breach"
COPY_REMINDER = "rhi_copy_reminder"
COPY_ESCALATION = "rhi_copy_escalation"
COPY_FOLLOW_UP = "rhi_copy_follow_up"
KINDS = (REMINDER, BREACH, COPY_REMINDER, COPY_ESCALATION, COPY_FOLLOW_UP)

DUE = "DUE"
OFFERED = "OFFERED"
ACCEPTED = "ACCEPTED"
COMPLETED = "COMPLETED"
DECLINED = "DECLINED"
NOT_POSSIBLE = "NOT_POSSIBLE"
NOT_REQUIRED = "NOT_REQUIRED"
CANCELLED = "CANCELLED"
OPEN = frozenset({DUE, OFFERED, ACCEPTED})
ENDED = frozenset({COMPLETED, DECLINED, NOT_POSSIBLE})
OUTCOMES = ("offered", "accepted", "declined", "completed", "not_possible")
METHODS = ("phone", "letter", "visit", "other")

RHI_TEAMS = (RHI_SERVICE, MISSING_COORDINATOR, FRONT_DOOR)
MANAGER_TEAMS = (MISSING_COORDINATOR, FRONT_DOOR)


class LateReasonRequired(ValueError):
    """A Return Home Interview completed after its due time needs its exceptional reason."""


def on_found(ctx: TrackingContext, session: Session, applied: AppliedEvent,
             tracked: TrackedEpisodeRow) -> RhiRow:
    """Record the RHI owed after a return and start its clocks (once per episode)."""
    existing = rhi_for_episode(session, applied.episode_id)
    if existing is not None:
        return existing
    now = applied.now
    owner = tracked.owner_authority
    rules = ctx.rules(owner).rhi
    host = tracked.host_authority
    placed_out = bool(host and owner and host != owner)
    host_authority = ctx.authority(host) if placed_out else None
    conducting = owner
    if host_authority is not None and host_authority.rules.rhi.does_rhi_for_placed_in:
        conducting = host_authority.id
    found = applied.episode.found
    start = found.found_at if rules.clock_start == "return" and found is not None else now
    grade = RiskGrade(tracked.risk_grade) if tracked.risk_grade else None
    required = rules.required(looked_after=tracked.looked_after, grade=grade)
    row = RhiRow(id=new_id(), episode_id=applied.episode_id, child_key=tracked.child_key,
                 responsible_authority=owner, conducting_authority=conducting,
                 host_authority=host if placed_out else None, looked_after=tracked.looked_after,
                 risk_grade=tracked.risk_grade, required=required,
                 clock_start=rules.clock_start, start_at=start,
                 due_at=after_hours(start, rules.hours),
                 status=DUE if required else NOT_REQUIRED, accepted="NA",
                 unsuccessful_attempts=0, breached=False, created_at=now, updated_at=now)
    session.add(row)
    if required:
        _start_clocks(ctx, session, row, now, chase_copy=placed_out and conducting == owner)
    return row


def _start_clocks(ctx: TrackingContext, session: Session, row: RhiRow, now: datetime,
                  chase_copy: bool) -> None:
    policy = ctx.policy
    hours = (row.due_at - row.start_at).total_seconds() / 3600
    reminder_hours = policy.rhi_reminder_hours if policy.rhi_reminder_hours < hours else hours / 2
    conducting = ctx.authority(row.conducting_authority)
    nominal = after_hours(row.start_at, reminder_hours)
    reminder = (office_time_before(conducting, nominal, not_before=max(now, row.start_at))
                if conducting is not None else nominal)
    clocks.schedule(session, kind=REMINDER, subject_type=SUBJECT, subject_id=row.episode_id,
                    due_at=reminder, now=now, data={"hours": reminder_hours})
    clocks.schedule(session, kind=BREACH, subject_type=SUBJECT, subject_id=row.episode_id,
                    due_at=row.due_at, now=now, data={})
    if not chase_copy:
        return
    host = ctx.authority(row.host_authority)
    reminder_at = after_days(row.due_at, policy.other_council_reminder_days)
    if host is not None:
        reminder_at = at_next_opening(host, reminder_at)
    # "two weeks after that": after the reminder as actually sent.
    follow_up_at = after_days(reminder_at, policy.other_council_follow_up_days)
    if host is not None:
        follow_up_at = at_next_opening(host, follow_up_at)
    for kind, due in ((COPY_REMINDER, reminder_at), (COPY_ESCALATION, reminder_at),
                      (COPY_FOLLOW_UP, follow_up_at)):
        clocks.schedule(session, kind=kind, subject_type=SUBJECT, subject_id=row.episode_id,
                        due_at=due, now=now, data={"host": row.host_authority})


def on_episode_cancelled(session: Session, episode_id: str, now: datetime) -> None:
    """An episode raised in error owes no RHI: stop its clocks."""
    row = rhi_for_episode(session, episode_id)
    if row is None:
        return
    if row.status in OPEN or row.status == NOT_REQUIRED:
        row.status = CANCELLED
        row.updated_at = now
    clocks.cancel(session, episode_id, KINDS)


def rhi_for_episode(session: Session, episode_id: str) -> RhiRow | None:
    """Return the RHI record of an episode, if one is owed or was."""
    return session.execute(select(RhiRow).where(RhiRow.episode_id == episode_id)
                           ).scalar_one_or_none()


# -- the service API (dashboard, case-system receipts) ---------------------------------------


def record_attempt(ctx: TrackingContext, session: Session, rhi_id: str, *, at: datetime,
                   method: str, successful: bool, now: datetime, by: str | None = None,
                   note: str | None = None) -> RhiRow:
    """Record one attempt to hold the RHI; more than 3 unsuccessful ones count as declined."""
    row = _open_row(session, rhi_id)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    session.add(RhiAttemptRow(rhi_id=row.id, at=at, method=method, successful=successful,
                              note=note, recorded_by=by, recorded_at=now))
    row.updated_at = now
    if successful:
        if row.offered_at is None:
            row.offered_at = at
        if row.status == DUE:
            row.status = OFFERED
        return row
    row.unsuccessful_attempts += 1
    if row.unsuccessful_attempts > ctx.policy.max_unsuccessful_attempts:
        row.offered_at = row.offered_at or at
        _end(ctx, session, row, DECLINED, at=at, now=now, by=by)
        letters = session.execute(select(RhiAttemptRow.id).where(
            RhiAttemptRow.rhi_id == row.id, RhiAttemptRow.method == "letter")).first()
        if letters is None:
            ctx.writer.raise_item(session, CoordinatorItem(
                kind="rhi_decline_letter", authority=row.conducting_authority,
                message=f"RHI recorded as declined after {row.unsuccessful_attempts} "
                "unsuccessful attempts: send and record the decline letter (001 L378)"),
                now, episode_id=row.episode_id)
    return row


def record_outcome(ctx: TrackingContext, session: Session, rhi_id: str, outcome: str, *,
                   at: datetime, now: datetime, by: str | None = None,
                   late_reason: str | None = None) -> RhiRow:
    """Record offered / accepted / declined / completed / not possible for an RHI.

    Raises LateReasonRequired when a completion after the due time gives no reason
    (000 §8.8), and ValueError for an unknown outcome or an RHI already ended.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    row = _open_row(session, rhi_id)
    row.updated_at = now
    if outcome == "offered":
        row.offered_at = row.offered_at or at
        row.status = OFFERED if row.status == DUE else row.status
    elif outcome == "accepted":
        row.offered_at = row.offered_at or at
        row.accepted = "Y"
        row.status = ACCEPTED
    elif outcome == "completed":
        if at > row.due_at and not (late_reason and late_reason.strip()):
            raise LateReasonRequired(
                f"completed {to_local(at):%d %b %H:%M}, after the due time "
                f"{to_local(row.due_at):%d %b %H:%M}: record the exceptional reason (000 §8.8)")
        row.offered_at = row.offered_at or at
        row.accepted = "Y"
        row.late_reason = late_reason if at > row.due_at else None
        _end(ctx, session, row, COMPLETED, at=at, now=now, by=by)
    elif outcome == "declined":
        row.offered_at = row.offered_at or at
        row.accepted = "N"
        _end(ctx, session, row, DECLINED, at=at, now=now, by=by)
    else:
        _end(ctx, session, row, NOT_POSSIBLE, at=at, now=now, by=by)
    return row


def _open_row(session: Session, rhi_id: str) -> RhiRow:
    row = session.get(RhiRow, rhi_id)
    if row is None:
        raise KeyError(rhi_id)
    if row.status not in OPEN:
        raise ValueError(f"the RHI is {row.status.lower().replace('_', ' ')}: nothing to record")
    return row


def _end(ctx: TrackingContext, session: Session, row: RhiRow, status: str, *, at: datetime,
         now: datetime, by: str | None) -> None:
    row.status = status
    row.outcome_at = at
    row.outcome_by = by
    if row.accepted == "NA" and status == DECLINED:
        row.accepted = "N"
    clocks.cancel(session, row.episode_id, KINDS)
    if status == DECLINED:
        _check_consecutive_declines(ctx, session, row, now)


def _check_consecutive_declines(ctx: TrackingContext, session: Session, row: RhiRow,
                                now: datetime) -> None:
    """Three declines in a row for one child call a multi-agency meeting (003 L569)."""
    if row.child_key is None:
        return
    needed = ctx.policy.consecutive_declines
    ended = session.execute(select(RhiRow.status).where(
        RhiRow.child_key == row.child_key, RhiRow.status.in_(ENDED))
        .order_by(RhiRow.start_at.desc()).limit(needed * 20)).scalars()
    streak = 0
    for status in ended:
        if status != DECLINED:
            break
        streak += 1
    if streak == 0 or streak % needed:
        return
    ctx.writer.raise_item(session, CoordinatorItem(
        kind="multi_agency_meeting", authority=row.responsible_authority,
        message=f"Return Home Interview declined {streak} times in a row: arrange a "
        "multi-agency meeting (003 L569)"), now, episode_id=row.episode_id)


# -- firing ----------------------------------------------------------------------------------


def _open(session: Session, clock: ClockRow) -> tuple[RhiRow, EpisodeRow] | None:
    row = rhi_for_episode(session, clock.subject_id)
    if row is None or row.status not in OPEN:
        return None
    episode = session.get(EpisodeRow, row.episode_id)
    return (row, episode) if episode is not None else None


def _who(episode: EpisodeRow) -> str:
    return f"{episode.child_name or 'child'} (ref {episode.police_reference})"


def fire_reminder(ctx: TrackingContext, session: Session, clock: ClockRow,
                  now: datetime) -> Fired:
    """Before the due time: remind the team that must hold the interview."""
    found = _open(session, clock)
    if found is None:
        return Fired("moot")
    row, episode = found
    if row.conducting_authority is None:
        return Fired("moot")
    reason = (f"Return Home Interview for {_who(episode)} due by "
              f"{to_local(row.due_at):%a %d %b %H:%M} (000 §8.13)")
    delivery = chase(ctx, session, episode_id=episode.id, kind=REMINDER,
                     target=Target(row.conducting_authority, RHI_TEAMS), reason=reason,
                     now=now, details={"rhi_due_at": row.due_at.isoformat()})
    return Fired("reminded", (delivery,) if delivery else ())


def fire_breach(ctx: TrackingContext, session: Session, clock: ClockRow,
                now: datetime) -> Fired:
    """At the due time with no outcome: breach alert to the named manager (000 §8.13)."""
    found = _open(session, clock)
    if found is None:
        return Fired("moot")
    row, episode = found
    row.breached = True
    reason = (f"Return Home Interview for {_who(episode)} was due "
              f"{to_local(row.due_at):%a %d %b %H:%M} and is not recorded as done (000 §8.13)")
    ctx.writer.raise_item(session, CoordinatorItem(kind="rhi_overdue", message=reason,
                                                   authority=row.conducting_authority),
                          now, episode_id=episode.id)
    deliveries: tuple[str, ...] = ()
    if row.conducting_authority is not None:
        delivery = chase(ctx, session, episode_id=episode.id, kind=BREACH,
                         target=Target(row.conducting_authority, MANAGER_TEAMS), reason=reason,
                         now=now, details={"rhi_due_at": row.due_at.isoformat()})
        deliveries = (delivery,) if delivery else ()
    return Fired("breach", deliveries, 1)


def fire_copy_reminder(ctx: TrackingContext, session: Session, clock: ClockRow,
                       now: datetime) -> Fired:
    """Two weeks past due with no RHI outcome: the host asks the responsible council (001 L392)."""
    found = _open(session, clock)
    if found is None:
        return Fired("moot")
    row, episode = found
    if row.responsible_authority is None:
        return Fired("moot")
    host = ctx.authority(row.host_authority)
    reason = (f"{host.name if host else row.host_authority} asks for the Return Home Interview "
              f"of {_who(episode)}, placed in its area, due {to_local(row.due_at):%d %b} "
              "(001 L392)")
    delivery = chase(ctx, session, episode_id=episode.id, kind=COPY_REMINDER,
                     target=Target(row.responsible_authority, RHI_TEAMS), reason=reason, now=now)
    return Fired("chased", (delivery,) if delivery else ())


def fire_copy_escalation(ctx: TrackingContext, session: Session, clock: ClockRow,
                         now: datetime) -> Fired:
    """No response at the reminder: escalated within the host authority (001 L392)."""
    found = _open(session, clock)
    if found is None:
        return Fired("moot")
    row, episode = found
    ctx.writer.raise_item(session, CoordinatorItem(
        kind="rhi_copy_escalation", authority=row.host_authority,
        message=f"no Return Home Interview received from {row.responsible_authority} for "
        f"{_who(episode)}, due {to_local(row.due_at):%d %b}: escalate (001 L392)"),
        now, episode_id=episode.id)
    return Fired("escalated", (), 1)


def fire_copy_follow_up(ctx: TrackingContext, session: Session, clock: ClockRow,
                        now: datetime) -> Fired:
    """Two weeks after the reminder: follow up with the other council's managers (001 L392)."""
    found = _open(session, clock)
    if found is None:
        return Fired("moot")
    row, episode = found
    if row.responsible_authority is None:
        return Fired("moot")
    reason = (f"still no Return Home Interview for {_who(episode)} (due "
              f"{to_local(row.due_at):%d %b}) after a reminder and escalation: follow-up to "
              "social workers and managers (001 L392)")
    delivery = chase(ctx, session, episode_id=episode.id, kind=COPY_FOLLOW_UP,
                     target=Target(row.responsible_authority, MANAGER_TEAMS), reason=reason,
                     now=now)
    ctx.writer.raise_item(session, CoordinatorItem(kind="rhi_copy_follow_up", message=reason,
                                                   authority=row.host_authority),
                          now, episode_id=episode.id)
    return Fired("escalated", (delivery,) if delivery else (), 1)


def handlers(ctx: TrackingContext) -> dict[str, Handler]:
    """Return the RHI clock handlers, bound to `ctx`."""
    return {REMINDER: bound(ctx, fire_reminder), BREACH: bound(ctx, fire_breach),
            COPY_REMINDER: bound(ctx, fire_copy_reminder),
            COPY_ESCALATION: bound(ctx, fire_copy_escalation),
            COPY_FOLLOW_UP: bound(ctx, fire_copy_follow_up)}
