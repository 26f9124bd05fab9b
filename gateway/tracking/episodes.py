"""Episode escalations: police notice, strategy discussion, police updates, NAR cap, long-term.

DOMAIN.md §5. Every duration comes from the owning authority's rules (the responsible
authority of a child in care, else the home authority, else the host); the force's own risk
rules may also cap "no apparent risk".
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.enums import EpisodeState, RiskGrade
from gateway.domain.routing import CoordinatorItem
from gateway.pipeline import AppliedEvent
from gateway.store.models import ClockRow, EpisodeRow
from gateway.store.tracking_models import TrackedEpisodeRow
from gateway.tracking import clocks
from gateway.tracking.chase import Target, chase
from gateway.tracking.clocks import Fired, Handler, bound
from gateway.tracking.context import TrackingContext
from gateway.tracking.keys import child_key
from gateway.tracking.timing import after_days, after_hours, after_months
from routing.calendars import to_local

SUBJECT = "episode"
STRATEGY = "strategy_discussion"
POLICE_UPDATE = "police_update"
NAR_CAP = "nar_cap"
LONG_TERM = "long_term_missing"
AWAY = "away_from_placement"
WHILE_MISSING = (STRATEGY, POLICE_UPDATE, NAR_CAP, LONG_TERM)


def owner_of(looked_after: bool, home: str | None, responsible: str | None,
             host: str | None) -> str | None:
    """Return the authority that owns the case: responsible if in care, else home, else host."""
    if looked_after and responsible:
        return responsible
    return home or responsible or host


def track(session: Session, applied: AppliedEvent,
          row: TrackedEpisodeRow | None) -> TrackedEpisodeRow:
    """Create (when `row` is None) or refresh the tracking facts of an episode."""
    episode, decision = applied.episode, applied.decision
    looked_after = bool(episode.placement and episode.placement.looked_after)
    if row is None:
        row = TrackedEpisodeRow(episode_id=applied.episode_id, force=episode.force,
                                opened_at=episode.opened_at, received_at=applied.now,
                                looked_after=looked_after, cancelled=False)
        session.add(row)
    row.home_authority = decision.home or row.home_authority
    row.responsible_authority = decision.responsible or row.responsible_authority
    row.host_authority = decision.host or row.host_authority
    row.looked_after = looked_after
    row.owner_authority = owner_of(looked_after, row.home_authority,
                                   row.responsible_authority, row.host_authority)
    row.child_key = child_key(episode.child, row.owner_authority) or row.child_key
    risk = episode.current_risk
    row.risk_grade = risk.grade.value if risk else row.risk_grade
    return row


def on_missing(ctx: TrackingContext, session: Session, applied: AppliedEvent,
               tracked: TrackedEpisodeRow) -> list[str]:
    """Start the clocks of a new episode and check the police notice came in time."""
    now, episode_id = applied.now, applied.episode_id
    rules = ctx.rules(tracked.owner_authority)
    opened = tracked.opened_at
    deliveries = _check_police_notice(ctx, session, applied, tracked)
    _schedule_strategy(ctx, session, tracked, now, new=True)
    clocks.schedule(session, kind=POLICE_UPDATE, subject_type=SUBJECT, subject_id=episode_id,
                    due_at=after_hours(opened, rules.first_update_hours), now=now,
                    data={"window_start": opened.isoformat(), "n": 1})
    _schedule_nar(ctx, session, applied, tracked)
    due, label = milestone(ctx, opened, 0)
    clocks.schedule(session, kind=LONG_TERM, subject_type=SUBJECT, subject_id=episode_id,
                    due_at=due, now=now, data={"milestone": 0, "label": label})
    return deliveries


def on_regraded(ctx: TrackingContext, session: Session, applied: AppliedEvent,
                tracked: TrackedEpisodeRow) -> None:
    """Re-time grade-dependent clocks after a regrade or an amended report."""
    if applied.episode.state is not EpisodeState.MISSING:
        return
    _schedule_strategy(ctx, session, tracked, applied.now)
    if tracked.risk_grade != RiskGrade.NO_APPARENT_RISK.value:
        clocks.cancel(session, applied.episode_id, [NAR_CAP])
    else:
        _schedule_nar(ctx, session, applied, tracked)


def on_update(applied: AppliedEvent, tracked: TrackedEpisodeRow) -> None:
    """Note a police update: it satisfies the update due in its window."""
    tracked.last_police_update_at = applied.now


def on_ended(session: Session, episode_id: str) -> int:
    """Stop the while-missing clocks (found, closed or cancelled); return how many."""
    return clocks.cancel(session, episode_id, (*WHILE_MISSING, AWAY))


def milestone(ctx: TrackingContext, opened: datetime, index: int) -> tuple[datetime, str]:
    """Return the due time and label of long-term-missing milestone `index` (0-based)."""
    days, months = ctx.policy.long_term_days, ctx.policy.long_term_months
    if index < len(days):
        count = days[index]
        label = f"{count // 7} weeks" if count % 7 == 0 and count != 28 else f"{count} days"
        return after_days(opened, count), label
    months_count = months[index - len(days)]
    return after_months(opened, months_count), f"{months_count} months"


def milestone_count(ctx: TrackingContext) -> int:
    """Return how many long-term-missing milestones there are."""
    return len(ctx.policy.long_term_days) + len(ctx.policy.long_term_months)


def _schedule_strategy(ctx: TrackingContext, session: Session, tracked: TrackedEpisodeRow,
                       now: datetime, new: bool = False) -> None:
    """Schedule (or re-time after a regrade) the strategy discussion, unless it has fired."""
    grade = RiskGrade(tracked.risk_grade) if tracked.risk_grade else None
    hours = ctx.rules(tracked.owner_authority).strategy_discussion_hours(grade)
    due = after_hours(tracked.opened_at, hours)
    data = {"hours": hours, "grade": tracked.risk_grade, "authority": tracked.owner_authority}
    if new:
        clocks.schedule(session, kind=STRATEGY, subject_type=SUBJECT,
                        subject_id=tracked.episode_id, due_at=due, now=now, data=data)
        return
    existing = clocks.pending(session, tracked.episode_id, [STRATEGY])
    if any(c.due_at == due for c in existing):
        return
    fired = session.execute(select(ClockRow.id).where(
        ClockRow.subject_id == tracked.episode_id, ClockRow.kind == STRATEGY,
        ClockRow.state == clocks.FIRED).limit(1)).scalar_one_or_none()
    if fired is not None:
        return
    clocks.cancel(session, tracked.episode_id, [STRATEGY])
    clocks.schedule(session, kind=STRATEGY, subject_type=SUBJECT, subject_id=tracked.episode_id,
                    due_at=due, now=now, data=data)


def _nar_cap_hours(ctx: TrackingContext, tracked: TrackedEpisodeRow) -> int | None:
    caps = [ctx.rules(tracked.owner_authority).risk.nar_cap_hours]
    force = ctx.directory.force(tracked.force)
    if force is not None:
        caps.append(force.risk.nar_cap_hours)
    present = [cap for cap in caps if cap is not None]
    return min(present) if present else None


def _schedule_nar(ctx: TrackingContext, session: Session, applied: AppliedEvent,
                  tracked: TrackedEpisodeRow) -> None:
    """Start the 'no apparent risk' cap (004 L329) when the grade is NAR and a cap applies."""
    risk = applied.episode.current_risk
    if risk is None or risk.grade is not RiskGrade.NO_APPARENT_RISK:
        return
    cap = _nar_cap_hours(ctx, tracked)
    if cap is None or clocks.pending(session, applied.episode_id, [NAR_CAP]):
        return
    clocks.schedule(session, kind=NAR_CAP, subject_type=SUBJECT, subject_id=applied.episode_id,
                    due_at=after_hours(risk.assessed_at, cap), now=applied.now,
                    data={"hours": cap, "graded_at": risk.assessed_at.isoformat()})


def _check_police_notice(ctx: TrackingContext, session: Session, applied: AppliedEvent,
                         tracked: TrackedEpisodeRow) -> list[str]:
    """Alert police and the coordinator when the notice came later than the rule allows."""
    notification = applied.notification
    reported = notification.reported_at or notification.occurred_at
    hours = ctx.rules(tracked.owner_authority).police_notice_hours
    due = after_hours(reported, hours)
    if applied.now <= due:
        return []
    late = applied.now - reported
    late_hours = late.total_seconds() / 3600
    reason = (f"missing report {notification.police_reference} reached the gateway "
              f"{late_hours:.1f} h after it was recorded ({to_local(reported):%d %b %H:%M}); "
              f"children's services must be told within {hours} h (000 §5.3.5; 003 L188)")
    ctx.writer.raise_item(session, CoordinatorItem(
        kind="police_notice_late", message=reason, authority=tracked.owner_authority),
        applied.now, episode_id=applied.episode_id, force=tracked.force)
    delivery = chase(ctx, session, episode_id=applied.episode_id, kind="police_notice_late",
                     target=Target.police(tracked.force), reason=reason, now=applied.now)
    return [delivery] if delivery else []


# -- firing ----------------------------------------------------------------------------------


def still_missing(session: Session,
                  episode_id: str) -> tuple[EpisodeRow, TrackedEpisodeRow] | None:
    """Return the episode and its tracking facts if the child is still missing, else None."""
    episode = session.get(EpisodeRow, episode_id)
    tracked = session.get(TrackedEpisodeRow, episode_id)
    if episode is None or tracked is None or tracked.cancelled:
        return None
    return (episode, tracked) if episode.state == EpisodeState.MISSING.value else None


def fire_strategy(ctx: TrackingContext, session: Session, clock: ClockRow,
                  now: datetime) -> Fired:
    """Still missing at the strategy-discussion deadline: a task to the council manager."""
    found = still_missing(session, clock.subject_id)
    if found is None:
        return Fired("moot")
    episode, tracked = found
    hours = clock.data.get("hours")
    reason = (f"{episode.child_name or 'child'} (ref {episode.police_reference}) still missing "
              f"{hours} h after the report: a strategy discussion is due now "
              "(000 §5.3.7; 001 L204; 003 L565)")
    ctx.writer.raise_item(session, CoordinatorItem(kind="strategy_discussion_due",
                                                   message=reason,
                                                   authority=tracked.owner_authority),
                          now, episode_id=episode.id)
    delivery = _chase_owner(ctx, session, tracked, STRATEGY, reason, now)
    return Fired("breach", delivery, 1)


def fire_police_update(ctx: TrackingContext, session: Session, clock: ClockRow,
                       now: datetime) -> Fired:
    """An update from police is due: chase unless one came since the window opened."""
    found = still_missing(session, clock.subject_id)
    if found is None:
        return Fired("moot")
    episode, tracked = found
    rules = ctx.rules(tracked.owner_authority)
    n = int(clock.data.get("n", 1))
    following, slots = after_days(clock.due_at, rules.update_interval_days), 1
    while following <= now:  # a scheduler that was down catches up with one chase, not many
        following, slots = after_days(following, rules.update_interval_days), slots + 1
    clocks.schedule(session, kind=POLICE_UPDATE, subject_type=SUBJECT, subject_id=episode.id,
                    due_at=following, now=now,
                    data={"window_start": clock.due_at.isoformat(), "n": n + slots})
    window_start = datetime.fromisoformat(str(clock.data["window_start"]))
    last = tracked.last_police_update_at
    if last is not None and last > window_start:
        return Fired("satisfied")
    first = n == 1
    reason = (f"no update from {tracked.force} on {episode.police_reference} "
              + (f"within {rules.first_update_hours} h of the report" if first else
                 f"in the last {rules.update_interval_days} days")
              + " while the child is missing (000 §5.3.7; 002 L214)")
    delivery = chase(ctx, session, episode_id=episode.id, kind=POLICE_UPDATE,
                     target=Target.police(tracked.force), reason=reason, now=now)
    return Fired("breach", (delivery,) if delivery else ())


def fire_nar(ctx: TrackingContext, session: Session, clock: ClockRow, now: datetime) -> Fired:
    """Graded 'no apparent risk' past the cap (004 L329): it must be regraded."""
    found = still_missing(session, clock.subject_id)
    if found is None:
        return Fired("moot")
    episode, tracked = found
    if episode.risk_grade != RiskGrade.NO_APPARENT_RISK.value:
        return Fired("satisfied")
    reason = (f"{episode.police_reference} has been graded no apparent risk for "
              f"{clock.data.get('hours')} h: it must now be regraded (004 L329)")
    ctx.writer.raise_item(session, CoordinatorItem(kind="nar_cap_exceeded", message=reason,
                                                   authority=tracked.owner_authority),
                          now, episode_id=episode.id, force=tracked.force)
    delivery = chase(ctx, session, episode_id=episode.id, kind=NAR_CAP,
                     target=Target.police(tracked.force), reason=reason, now=now)
    return Fired("breach", (delivery,) if delivery else (), 1)


def fire_long_term(ctx: TrackingContext, session: Session, clock: ClockRow,
                   now: datetime) -> Fired:
    """A long-term-missing milestone: senior review, and the next milestone is set."""
    found = still_missing(session, clock.subject_id)
    if found is None:
        return Fired("moot")
    episode, tracked = found
    index = int(clock.data.get("milestone", 0))
    if index + 1 < milestone_count(ctx):
        due, label = milestone(ctx, tracked.opened_at, index + 1)
        clocks.schedule(session, kind=LONG_TERM, subject_type=SUBJECT, subject_id=episode.id,
                        due_at=due, now=now, data={"milestone": index + 1, "label": label})
    reason = (f"{episode.child_name or 'child'} (ref {episode.police_reference}) has been "
              f"missing {clock.data.get('label')}: senior review (001 L290-302; 003 L631-633)")
    ctx.writer.raise_item(session, CoordinatorItem(kind="long_term_missing", message=reason,
                                                   authority=tracked.owner_authority),
                          now, episode_id=episode.id)
    delivery = _chase_owner(ctx, session, tracked, LONG_TERM, reason, now)
    return Fired("escalated", delivery, 1)


def start_away(session: Session, *, subject_id: str, authority: str, first_aware: datetime,
               now: datetime, hours: float = 6.0, label: str = "") -> str:
    """Start the away-from-placement clock (004 L281) for a child whose whereabouts are known."""
    return clocks.schedule(session, kind=AWAY, subject_type="away", subject_id=subject_id,
                           due_at=after_hours(first_aware, hours), now=now,
                           data={"authority": authority, "hours": hours, "label": label})


def end_away(session: Session, subject_id: str) -> int:
    """Stop the away-from-placement clock: the child is back, or was reported missing."""
    return clocks.cancel(session, subject_id, [AWAY])


def fire_away(ctx: TrackingContext, session: Session, clock: ClockRow, now: datetime) -> Fired:
    """Away from placement past the limit: the child must now be reported missing."""
    authority = clock.data.get("authority")
    ctx.writer.raise_item(session, CoordinatorItem(
        kind="away_from_placement_limit", authority=authority,
        message=f"{clock.data.get('label') or 'child'} away from placement for "
        f"{clock.data.get('hours')} h with whereabouts unknown: must be reported missing "
        "to police (004 L281; 002 L472)"), now)
    return Fired("breach", (), 1)


def _chase_owner(ctx: TrackingContext, session: Session, tracked: TrackedEpisodeRow,
                 kind: str, reason: str, now: datetime) -> tuple[str, ...]:
    if tracked.owner_authority is None:
        return ()
    delivery = chase(ctx, session, episode_id=tracked.episode_id, kind=kind,
                     target=Target(tracked.owner_authority), reason=reason, now=now)
    return (delivery,) if delivery else ()


def handlers(ctx: TrackingContext) -> dict[str, Handler]:
    """Return the clock handlers of episode escalations, bound to `ctx`."""
    return {STRATEGY: bound(ctx, fire_strategy), POLICE_UPDATE: bound(ctx, fire_police_update),
            NAR_CAP: bound(ctx, fire_nar), LONG_TERM: bound(ctx, fire_long_term),
            AWAY: bound(ctx, fire_away)}
