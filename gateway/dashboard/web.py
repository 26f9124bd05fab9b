"""Wires the dashboard into the Flask app: blueprint, pages, actions and govuk-frontend fonts."""

from __future__ import annotations

import logging

from flask import Flask, Response, abort, send_from_directory

from gateway.dashboard.assets import govuk_assets_dir
from gateway.dashboard.blueprint import dashboard
from gateway.services import Services

log = logging.getLogger(__name__)


def register(app: Flask, services: Services) -> None:
    """Add the coordinator dashboard under /dashboard to `app` (which holds `services`)."""
    # Importing the view modules attaches their routes to the blueprint.
    from gateway.dashboard import action_views, auth_views, pages  # noqa: F401

    app.extensions.setdefault("gateway", services)
    app.register_blueprint(dashboard)
    if govuk_assets_dir() is None:
        log.warning("govuk-frontend is not installed (run `npm ci`): the dashboard is unstyled")

    # govuk-frontend's compiled CSS names its fonts and images under /assets/.
    @app.get("/assets/<path:filename>", endpoint="govuk_assets")
    def govuk_assets(filename: str) -> Response:
        """Serve govuk-frontend's fonts and images."""
        folder = govuk_assets_dir()
        if folder is None:
            abort(404)
        return send_from_directory(folder / "assets", filename, max_age=86400)
