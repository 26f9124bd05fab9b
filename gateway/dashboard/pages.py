"""The dashboard's pages: Today, Episode, Deliveries, Items, Authorities, Audit and Search."""

from __future__ import annotations

from flask import abort, jsonify, redirect, request, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, or_, select

from gateway.accounts.scope import (
    can_see_episode,
    delivery_condition,
    inbound_condition,
    item_condition,
    may_record_rhi,
    may_reprocess,
    may_resend,
    may_resolve,
    may_route,
    may_see_operations,
)
from gateway.dashboard import queries
from gateway.dashboard.actions import REPROCESSABLE, RHI_OUTCOMES, alternate_channels
from gateway.dashboard.assets import govuk_assets_dir
from gateway.dashboard.blueprint import (
    dashboard,
    now,
    page,
    record,
    role_required,
    services,
    viewer,
)
from gateway.dashboard.channels import channel_health
from gateway.dashboard.timeline import delivery_acks, episode_view
from gateway.domain.enums import DeliveryStatus
from gateway.store.models import (
    AuditEntry,
    CoordinatorItemRow,
    DeliveryRow,
    EpisodeRow,
    InboundMessage,
)

AUDIT_PAGE = 100


@dashboard.get("/")
def index() -> ResponseReturnValue:
    """Send people to the Today page."""
    return redirect(url_for("dashboard.today"))


@dashboard.get("/govuk/<path:filename>")
def govuk_asset(filename: str) -> ResponseReturnValue:
    """Serve a file of the installed govuk-frontend package (CSS, JS, fonts, images)."""
    folder = govuk_assets_dir()
    if folder is None:
        abort(404)
    return send_from_directory(folder, filename, max_age=3600)


@dashboard.get("/today")
def today() -> ResponseReturnValue:
    """Show counts and lists of everything that needs action now."""
    with services().db.read() as session:
        view = queries.today(session, viewer(), now())
    return page("today.html", view=view)


@dashboard.get("/today/live")
def today_live() -> ResponseReturnValue:
    """Return the Today lists as an HTML fragment (or counts as JSON), for live refresh."""
    with services().db.read() as session:
        view = queries.today(session, viewer(), now())
    if request.args.get("format") == "json":
        return jsonify({"counts": view.counts(), "generated_at": view.generated_at.isoformat()})
    return page("_today_lists.html", view=view)


@dashboard.get("/episodes/<episode_id>")
def episode(episode_id: str) -> ResponseReturnValue:
    """Show one episode: the child as the viewer may see it, risk history and timeline."""
    with services().db.read() as session:
        row = session.get(EpisodeRow, episode_id)
        allowed = row is not None and can_see_episode(session, viewer(), episode_id)
        view = episode_view(session, viewer(), row) if row is not None and allowed else None
    if row is None:
        abort(404)
    if not allowed or view is None:
        record("episode.view_denied", "episode", episode_id,
               {"role": viewer().role.value, "organisation": viewer().organisation})
        abort(403)
    record("episode.viewed", "episode", episode_id,
           {"profile": view.profile or "full", "police_reference": row.police_reference})
    return page("episode.html", view=view, rhi_outcomes=RHI_OUTCOMES,
                may_record_rhi=may_record_rhi(viewer(), True))


@dashboard.get("/deliveries")
def deliveries() -> ResponseReturnValue:
    """List deliveries, filtered by status and authority."""
    return page("deliveries.html", **_deliveries_context())


@dashboard.get("/deliveries/live")
def deliveries_live() -> ResponseReturnValue:
    """Return the deliveries table as a fragment, for live refresh."""
    return page("_deliveries_table.html", **_deliveries_context())


def _deliveries_context() -> dict[str, object]:
    """Return what the deliveries list shows for this request's filters."""
    status = request.args.get("status") or None
    if status and status not in DeliveryStatus.__members__:
        status = None
    authority = request.args.get("authority") or None
    with services().db.read() as session:
        rows = queries.deliveries(session, viewer(), status=status, authority=authority)
        counts = queries.delivery_counts(session, viewer())
        refs = queries.references(session, {r.episode_id for r in rows})
    return {"rows": rows, "counts": counts, "refs": refs, "status": status or "",
            "authority": authority or "", "statuses": list(DeliveryStatus.__members__)}


def _visible_delivery(delivery_id: str) -> tuple[DeliveryRow, str]:
    """Return a delivery the viewer may see and its episode's reference, or abort."""
    with services().db.read() as session:
        row = session.get(DeliveryRow, delivery_id)
        if row is None:
            abort(404)
        visible = session.execute(select(DeliveryRow.id).where(
            DeliveryRow.id == delivery_id, delivery_condition(viewer()))).first()
        reference = session.execute(select(EpisodeRow.police_reference).where(
            EpisodeRow.id == row.episode_id)).scalar_one()
    if visible is None:
        record("delivery.view_denied", "delivery", delivery_id, {"role": viewer().role.value})
        abort(403)
    return row, reference


@dashboard.get("/deliveries/<delivery_id>")
def delivery(delivery_id: str) -> ResponseReturnValue:
    """Show one delivery, with re-send if it is held; its status refreshes live."""
    row, reference = _visible_delivery(delivery_id)
    alternates = sorted(alternate_channels(services(), row)) if row.status == "HELD" else []
    with services().db.read() as session:
        ack = delivery_acks(session, [row.id]).get(row.id)
    return page("delivery.html", row=row, reference=reference, alternates=alternates,
                may_resend=may_resend(viewer(), row), ack=ack)


@dashboard.get("/deliveries/<delivery_id>/live")
def delivery_live(delivery_id: str) -> ResponseReturnValue:
    """Return the delivery's status panel as a fragment, for the progress display."""
    row, _ = _visible_delivery(delivery_id)
    return page("_delivery_status.html", row=row)


@dashboard.get("/items/<item_id>")
def item(item_id: str) -> ResponseReturnValue:
    """Show one coordinator item with what may be done about it."""
    with services().db.read() as session:
        row = session.get(CoordinatorItemRow, item_id)
        if row is None:
            abort(404)
        visible = session.execute(select(CoordinatorItemRow.id).where(
            CoordinatorItemRow.id == item_id, item_condition(viewer()))).first() is not None
        episode_visible = bool(row.episode_id) and can_see_episode(
            session, viewer(), row.episode_id or "")
        reference = session.execute(select(EpisodeRow.police_reference).where(
            EpisodeRow.id == row.episode_id)).scalar_one_or_none() if row.episode_id else None
    if not visible:
        record("item.view_denied", "item", item_id, {"role": viewer().role.value})
        abort(403)
    authorities = sorted(services().directory.authorities.values(), key=lambda a: a.name)
    routable = row.kind in queries.ROUTING_KINDS and row.resolved_at is None
    return page("item.html", row=row, reference=reference, authorities=authorities,
                may_route=routable and may_route(viewer()) and bool(row.episode_id),
                may_resolve=row.resolved_at is None and may_resolve(viewer(), row,
                                                                    episode_visible))


@dashboard.get("/messages/<inbound_id>")
def message(inbound_id: str) -> ResponseReturnValue:
    """Show a quarantined or held message with its reasons (never its personal values)."""
    from gateway.dashboard.quarantine_page import shown_value

    with services().db.read() as session:
        row = session.get(InboundMessage, inbound_id)
        if row is None:
            abort(404)
        visible = session.execute(select(InboundMessage.id).where(
            InboundMessage.id == inbound_id, inbound_condition(viewer()))).first() is not None
    if not visible:
        record("message.view_denied", "inbound", inbound_id, {"role": viewer().role.value})
        abort(403)
    record("quarantine.viewed", "inbound", inbound_id, {"status": row.status})
    return page("message.html", row=row, shown_value=shown_value,
                may_reprocess=may_reprocess(viewer()) and row.status in REPROCESSABLE)


@dashboard.get("/authorities")
def authorities() -> ResponseReturnValue:
    """Show every authority's channels: certificate expiry, endpoint health and circuit."""
    role_required(may_see_operations)
    with services().db.read() as session:
        health = channel_health(session, services(), now())
    return page("authorities.html", health=health)


@dashboard.get("/audit")
def audit_log() -> ResponseReturnValue:
    """Search the audit log by text, action, actor or subject."""
    role_required(may_see_operations)
    text = (request.args.get("q") or "").strip()
    action = (request.args.get("action") or "").strip()
    actor = (request.args.get("actor") or "").strip()
    subject = (request.args.get("subject") or "").strip()
    before = request.args.get("before", type=int)
    stmt = select(AuditEntry)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if subject:
        stmt = stmt.where(AuditEntry.subject_id == subject)
    if text:
        like = f"%{text}%"
        stmt = stmt.where(or_(AuditEntry.action.like(like), AuditEntry.actor.like(like),
                              AuditEntry.subject_id.like(like)))
    if before:
        stmt = stmt.where(AuditEntry.seq < before)
    with services().db.read() as session:
        rows = list(session.execute(stmt.order_by(AuditEntry.seq.desc()).limit(AUDIT_PAGE))
                    .scalars())
        total = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
        actions = list(session.execute(select(AuditEntry.action).distinct().order_by(
            AuditEntry.action)).scalars())
    older = rows[-1].seq if len(rows) == AUDIT_PAGE else None
    return page("audit.html", rows=rows, total=total, actions=actions, q=text, action=action,
                actor=actor, subject=subject, older=older)


@dashboard.get("/search")
def search() -> ResponseReturnValue:
    """Find episodes by police reference, council child id, name and birth date, authority."""
    query = queries.SearchQuery(
        police_reference=(request.args.get("police_reference") or "").strip(),
        council_child_id=(request.args.get("council_child_id") or "").strip(),
        name=(request.args.get("name") or "").strip(),
        date_of_birth=_date_of_birth(),
        authority=(request.args.get("authority") or "").strip())
    results: list[EpisodeRow] = []
    if not query.is_empty():
        with services().db.read() as session:
            results = queries.search(session, viewer(), query)
        # Results show children's names: the search itself is a view of their records.
        record("episode.searched", "search", viewer().user_id,
               {"query": query.as_dict(), "episodes": [r.id for r in results]})
    authorities = sorted(services().directory.authorities.values(), key=lambda a: a.name)
    return page("search.html", query=query, results=results, searched=not query.is_empty(),
                authorities=authorities, dob=_date_parts())


def _date_parts() -> dict[str, str]:
    """Return the day, month and year fields of the date-of-birth input as typed."""
    return {part: (request.args.get(f"dob-{part}") or "").strip()
            for part in ("day", "month", "year")}


def _date_of_birth() -> str:
    """Return the date of birth asked for as YYYY-MM-DD, or '' if none or incomplete."""
    parts = _date_parts()
    if not all(parts.values()):
        return ""
    try:
        return f"{int(parts['year']):04d}-{int(parts['month']):02d}-{int(parts['day']):02d}"
    except ValueError:
        return ""
