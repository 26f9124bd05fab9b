"""The quarantine page: rejected and held messages with the reasons, for coordinators.

Like the status page it shows references and reasons, not a child's details: the value a
rule rejected is shown only for fields that carry no personal data. Coordinators re-process
a message through the API or `gateway quarantine reprocess ID`; every view is audited.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request

from gateway.intake.quarantine import QUARANTINE_STATUSES, list_quarantined
from gateway.services import Services

quarantine_page = Blueprint("quarantine_page", __name__, template_folder="templates")

# Field paths whose offending value may be a child's or a person's details.
PERSONAL_FIELDS = ("child", "reporter", "associates", "missing_from", "placement.address",
                   "last_seen", "circumstances", "extra")


def shown_value(error: dict[str, Any]) -> str | None:
    """Return the rejected value to display, or None where it may be personal data."""
    field = str(error.get("field", ""))
    value = error.get("value")
    if value is None or field.startswith(PERSONAL_FIELDS):
        return None
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


@quarantine_page.get("/quarantine")
def index() -> str:
    """Render the quarantine page (optionally filtered by ?status= and ?force=)."""
    services: Services = current_app.extensions["gateway"]
    status = request.args.get("status") or None
    if status not in {None, *(s.value for s in QUARANTINE_STATUSES)}:
        status = None
    force = request.args.get("force") or None
    messages = list_quarantined(services, f"web:{request.remote_addr or 'unknown'}",
                                status=status, force=force)
    return render_template("quarantine.html", messages=messages, status=status, force=force,
                           shown_value=shown_value)


def register(app: Flask) -> None:
    """Add the quarantine page to the app."""
    app.register_blueprint(quarantine_page)
