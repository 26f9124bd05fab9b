"""Who may see what: the scope rules of each role, as SQL conditions and plain checks.

An authority user sees the episodes their authority acts on or is told of (a delivery to it,
or it is the episode's responsible or host authority); a force user sees its own force's
episodes; regional coordinators and administrators see everything. What hangs on an episode
(deliveries, clocks, items) is visible when the episode is; the audit log and the channels
page are for coordinators and administrators only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true, union
from sqlalchemy.orm import Session, aliased

from gateway.accounts.roles import Role, Viewer
from gateway.domain.enums import RecipientRole
from gateway.store.models import (
    CoordinatorItemRow,
    DeliveryRow,
    EpisodeRow,
    InboundMessage,
)


def _told(org: str) -> Any:
    """Return a select of the ids of episodes with a copy to `org` (never correlated)."""
    copy = aliased(DeliveryRow)
    return select(copy.episode_id).where(copy.authority == org).correlate(None)


def visible_episode_ids(viewer: Viewer) -> Any:
    """Return a select of the ids of the episodes `viewer` may see, or None for all of them.

    Uncorrelated, so that the database works it out once per query, not once per row.
    """
    if viewer.role.sees_everything:
        return None
    org = viewer.organisation or ""
    episode = aliased(EpisodeRow)
    if viewer.role is Role.FORCE:
        return select(episode.id).where(episode.force == org).correlate(None)
    named = select(episode.id).where(or_(episode.responsible_authority == org,
                                         episode.host_authority == org)).correlate(None)
    return union(named, _told(org))


def episode_condition(viewer: Viewer) -> ColumnElement[bool]:
    """Return the SQL condition on EpisodeRow for the episodes `viewer` may see."""
    if viewer.role.sees_everything:
        return true()
    org = viewer.organisation
    if org is None:
        return false()
    if viewer.role is Role.FORCE:
        return EpisodeRow.force == org
    return or_(EpisodeRow.responsible_authority == org, EpisodeRow.host_authority == org,
               EpisodeRow.id.in_(_told(org)))


def episode_visible(viewer: Viewer, episode_id: Any) -> ColumnElement[bool]:
    """Return an SQL condition: the episode whose id is `episode_id` is visible to `viewer`."""
    ids = visible_episode_ids(viewer)
    if ids is None:
        return true()
    if viewer.organisation is None:
        return false()
    result: ColumnElement[bool] = episode_id.in_(ids)
    return result


def delivery_condition(viewer: Viewer) -> ColumnElement[bool]:
    """Return the SQL condition on DeliveryRow: deliveries of the episodes `viewer` may see."""
    return episode_visible(viewer, DeliveryRow.episode_id)


def item_condition(viewer: Viewer) -> ColumnElement[bool]:
    """Return the SQL condition on CoordinatorItemRow for the items `viewer` may see."""
    if viewer.role.sees_everything:
        return true()
    own = (CoordinatorItemRow.authority == viewer.organisation
           if viewer.role is Role.AUTHORITY else CoordinatorItemRow.force == viewer.organisation)
    return or_(own, episode_visible(viewer, CoordinatorItemRow.episode_id))


def inbound_condition(viewer: Viewer) -> ColumnElement[bool]:
    """Return the SQL condition on InboundMessage: a force sees what it sent, councils none."""
    if viewer.role.sees_everything:
        return true()
    if viewer.role is Role.FORCE:
        return InboundMessage.sender == viewer.organisation
    return false()


def can_see_episode(session: Session, viewer: Viewer, episode_id: str) -> bool:
    """Say whether `viewer` may open the episode with this id."""
    found = session.execute(select(EpisodeRow.id).where(
        EpisodeRow.id == episode_id, episode_condition(viewer))).first()
    return found is not None


def child_profile(session: Session, viewer: Viewer, episode: EpisodeRow) -> str | None:
    """Return the minimisation profile to show the child through, or None for the full record.

    An authority user sees the child as its most privileged copy showed it: an action copy's
    profile if it acts, else the profile of the information copy it was sent.
    """
    if viewer.role is not Role.AUTHORITY:
        return None
    rows = session.execute(select(DeliveryRow.role, DeliveryRow.profile).where(
        DeliveryRow.episode_id == episode.id,
        DeliveryRow.authority == viewer.organisation)).all()
    for role, profile in rows:
        if role == RecipientRole.ACTION.value:
            return str(profile)
    if rows:
        return str(rows[0][1])
    if episode.responsible_authority == viewer.organisation:
        return "responsible_action"
    return "host_information"


def may_resend(viewer: Viewer, delivery: DeliveryRow) -> bool:
    """Say whether `viewer` may re-send this held delivery."""
    if viewer.role.sees_everything:
        return True
    return viewer.role is Role.AUTHORITY and delivery.authority == viewer.organisation


def may_route(viewer: Viewer) -> bool:
    """Say whether `viewer` may set the responsible authority of an unroutable notification."""
    return viewer.role.sees_everything


def may_resolve(viewer: Viewer, item: CoordinatorItemRow, episode_visible: bool) -> bool:
    """Say whether `viewer` may resolve this coordinator item."""
    if viewer.role.sees_everything:
        return True
    if viewer.role is Role.AUTHORITY:
        return item.authority == viewer.organisation or episode_visible
    return item.force == viewer.organisation or episode_visible


def may_record_rhi(viewer: Viewer, episode_visible: bool) -> bool:
    """Say whether `viewer` may record an RHI outcome by hand (councils and coordinators)."""
    if viewer.role.sees_everything:
        return True
    return viewer.role is Role.AUTHORITY and episode_visible


def may_reprocess(viewer: Viewer) -> bool:
    """Say whether `viewer` may re-process a quarantined message (it re-reads the directory)."""
    return viewer.role.sees_everything


def may_see_operations(viewer: Viewer) -> bool:
    """Say whether `viewer` may see the audit log and the authorities and channels page."""
    return viewer.role.sees_everything
