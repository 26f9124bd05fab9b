"""Repeat missing: rolling-window counts per child against each authority's thresholds.

DOMAIN.md §5 (e.g. Cheshire 3 in 30 days, Warwickshire 3/6/9 in 90 days). A threshold
reached raises its named meeting item, due in working days of that authority's calendar
(003 L573: "within 5 working days of any trigger episode"). A trigger is raised once per
window: the fourth episode in 30 days does not call the same meeting again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.routing import CoordinatorItem
from gateway.store.tracking_models import RepeatTriggerRow, TrackedEpisodeRow
from gateway.tracking.chase import Target, chase
from gateway.tracking.context import TrackingContext
from gateway.tracking.timing import after_days
from routing.calendars import add_working_days, to_local


def on_missing(ctx: TrackingContext, session: Session, tracked: TrackedEpisodeRow,
               now: datetime) -> list[str]:
    """Count the child's episodes in each threshold's window; raise the meetings now due."""
    if tracked.child_key is None:
        return []
    deliveries: list[str] = []
    authorities = [tracked.owner_authority]
    if tracked.host_authority and tracked.host_authority != tracked.owner_authority:
        authorities.append(tracked.host_authority)
    rules = [(a, a.rules.repeat_missing) for a in map(ctx.authority, authorities)
             if a is not None and a.rules.repeat_missing]
    if not rules:
        return []
    longest = max(t.days for _, thresholds in rules for t in thresholds)
    opened = _opened_in_window(session, tracked.child_key, tracked.opened_at, longest)
    for authority, thresholds in rules:
        for threshold in thresholds:
            start = after_days(tracked.opened_at, -threshold.days)
            count = sum(1 for when in opened if when > start)
            if count < threshold.count:
                continue
            since = after_days(now, -threshold.days)
            already = session.execute(select(RepeatTriggerRow.id).where(
                RepeatTriggerRow.child_key == tracked.child_key,
                RepeatTriggerRow.authority == authority.id,
                RepeatTriggerRow.item == threshold.item,
                RepeatTriggerRow.raised_at > since).limit(1)).first()
            if already is not None:
                continue
            due = add_working_days(authority, now, ctx.policy.meeting_working_days)
            message = (f"{count} missing episodes in {threshold.days} days "
                       f"(threshold {threshold.count}): {threshold.item.replace('_', ' ')} due "
                       f"by {to_local(due):%a %d %b %Y} "
                       f"({ctx.policy.meeting_working_days} working days)")
            item_id = ctx.writer.raise_item(session, CoordinatorItem(
                kind=threshold.item, message=message, authority=authority.id), now,
                episode_id=tracked.episode_id)
            session.add(RepeatTriggerRow(
                child_key=tracked.child_key, authority=authority.id, item=threshold.item,
                count=count, window_days=threshold.days, episode_id=tracked.episode_id,
                raised_at=now, due_at=due, item_id=item_id))
            delivery = chase(ctx, session, episode_id=tracked.episode_id, kind="repeat_missing",
                             target=Target(authority.id), reason=message, now=now,
                             details={"meeting": threshold.item, "meeting_due": due.isoformat()})
            if delivery:
                deliveries.append(delivery)
    return deliveries


def count_in_window(session: Session, key: str, at: datetime, days: int) -> int:
    """Count the child's episodes (not cancelled) opened in the `days` days up to `at`."""
    return len(_opened_in_window(session, key, at, days))


def _opened_in_window(session: Session, key: str, at: datetime, days: int) -> list[datetime]:
    """Return when the child's episodes (not cancelled) opened in the `days` days up to `at`."""
    start = after_days(at, -days)
    return list(session.execute(select(TrackedEpisodeRow.opened_at).where(
        TrackedEpisodeRow.child_key == key, TrackedEpisodeRow.cancelled.is_(False),
        TrackedEpisodeRow.opened_at > start, TrackedEpisodeRow.opened_at <= at)).scalars())
