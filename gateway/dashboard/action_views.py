"""Action endpoints: each asks for confirmation first, then acts, audits and reports."""

from __future__ import annotations

from collections.abc import Callable

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue

from gateway.dashboard import actions
from gateway.dashboard.blueprint import dashboard, page, services, viewer


def _confirmed(title: str, summary: list[tuple[str, str]], back: str,
               act: Callable[[], str]) -> ResponseReturnValue:
    """Show the confirmation page until the person confirms; then act and go where `act` says."""
    if request.form.get("confirm") != "yes":
        fields = {k: v for k, v in request.form.items() if k not in ("csrf_token", "confirm")}
        return page("confirm.html", title=title, summary=summary, fields=fields,
                    action=request.path, back=back)
    try:
        return redirect(act())
    except actions.ActionError as exc:
        return page("action_error.html", title=title, message=str(exc), back=back), exc.status


@dashboard.post("/deliveries/<delivery_id>/resend")
def resend(delivery_id: str) -> ResponseReturnValue:
    """Re-send a held delivery on its own channel or another team's."""
    team = request.form.get("channel") or ""
    alternate = None if team in ("", "same") else team
    back = url_for("dashboard.delivery", delivery_id=delivery_id)

    def act() -> str:
        actions.resend_delivery(services(), viewer(), delivery_id, alternate)
        return url_for("dashboard.delivery", delivery_id=delivery_id, notice="resent")

    return _confirmed("Re-send this delivery?", [
        ("Delivery", delivery_id),
        ("Channel", f"the {alternate.replace('_', ' ')} channel" if alternate
         else "the same channel")], back, act)


@dashboard.post("/items/<item_id>/resolve")
def resolve(item_id: str) -> ResponseReturnValue:
    """Resolve a coordinator item with a note."""
    note = (request.form.get("note") or "").strip()
    back = url_for("dashboard.item", item_id=item_id)
    if not note:
        return page("action_error.html", title="Resolve this item",
                    message="Enter a note saying how the item was resolved", back=back), 400

    def act() -> str:
        actions.resolve_item(services(), viewer(), item_id, note)
        return url_for("dashboard.item", item_id=item_id, notice="resolved")

    return _confirmed("Resolve this item?", [("Item", item_id), ("Note", note)], back, act)


@dashboard.post("/items/<item_id>/responsible")
def set_responsible(item_id: str) -> ResponseReturnValue:
    """Name the responsible authority of an unroutable notification and send it there."""
    authority_id = request.form.get("authority") or ""
    note = (request.form.get("note") or "").strip()
    authority = services().directory.authority(authority_id)
    back = url_for("dashboard.item", item_id=item_id)

    def act() -> str:
        actions.set_responsible_authority(services(), viewer(), item_id, authority_id, note)
        return url_for("dashboard.item", item_id=item_id, notice="routed")

    return _confirmed("Send this notification to the authority you chose?", [
        ("Item", item_id),
        ("Responsible authority", authority.name if authority else "(not chosen)"),
        ("Note", note or "(none)")], back, act)


@dashboard.post("/episodes/<episode_id>/rhi-outcome")
def rhi_outcome(episode_id: str) -> ResponseReturnValue:
    """Record a Return Home Interview outcome by hand."""
    outcome = request.form.get("outcome") or ""
    note = (request.form.get("note") or "").strip()
    back = url_for("dashboard.episode", episode_id=episode_id)

    def act() -> str:
        actions.record_rhi_outcome(services(), viewer(), episode_id, outcome, note)
        return url_for("dashboard.episode", episode_id=episode_id, notice="rhi")

    return _confirmed("Record this return home interview outcome?", [
        ("Outcome", actions.RHI_OUTCOMES.get(outcome, "(not chosen)")),
        ("Note", note or "(none)")], back, act)


@dashboard.post("/messages/<inbound_id>/reprocess")
def reprocess(inbound_id: str) -> ResponseReturnValue:
    """Re-process a quarantined or held message after its cause was put right."""
    back = url_for("dashboard.message", inbound_id=inbound_id)

    def act() -> str:
        status = actions.reprocess_message(services(), viewer(), inbound_id)
        return url_for("dashboard.message", inbound_id=inbound_id, notice=status.lower())

    return _confirmed("Re-process this message?", [
        ("Message", inbound_id),
        ("What happens", "The directory is read again and the message goes through intake "
                         "once more; if it is valid now it is applied and sent on.")], back, act)
