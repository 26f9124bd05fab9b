"""The minimal status page: open episodes, recent deliveries and open coordinator items.

It shows references, states and routing reasons only, never a child's name: the full
dashboard with accounts and per-role scope is where personal details are shown.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from gateway.services import Services
from gateway.store.models import CoordinatorItemRow, DeliveryRow, EpisodeRow, InboundMessage

status_page = Blueprint("status", __name__, template_folder="templates")


@status_page.get("/status")
def index() -> str:
    """Render the status page."""
    services: Services = current_app.extensions["gateway"]
    with services.db.read() as session:
        episodes = session.execute(
            select(EpisodeRow).order_by(EpisodeRow.updated_at.desc()).limit(50)).scalars().all()
        deliveries = session.execute(
            select(DeliveryRow).order_by(DeliveryRow.created_at.desc()).limit(100)
        ).scalars().all()
        items = session.execute(
            select(CoordinatorItemRow).where(CoordinatorItemRow.resolved_at.is_(None))
            .order_by(CoordinatorItemRow.created_at.desc()).limit(50)).scalars().all()
        counts = dict(session.execute(
            select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)).all())
        quarantined = session.execute(select(func.count()).select_from(InboundMessage).where(
            InboundMessage.status == "QUARANTINED")).scalar_one()
    return render_template("status.html", episodes=episodes, deliveries=deliveries,
                           items=items, counts=counts, quarantined=quarantined)
