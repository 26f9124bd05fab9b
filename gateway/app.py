"""The Flask application factory: intake API, receipts, OpenAPI, health and the status page."""

from __future__ import annotations

from flask import Flask, Response, jsonify, redirect
from werkzeug.wrappers import Response as BaseResponse

from gateway.dashboard import quarantine_page
from gateway.dashboard import register as register_dashboard
from gateway.dashboard.blueprint import operations_only
from gateway.dashboard.status import status_page
from gateway.delivery.api import register as register_deliveries_api
from gateway.intake import quarantine
from gateway.intake.api import intake
from gateway.intake.receipts_api import register as register_receipts_api
from gateway.openapi import build_spec
from gateway.services import Services
from gateway.settings import load_settings


def create_app(services: Services | None = None) -> Flask:
    """Create the web app around `services` (built from the environment if not given)."""
    services = services or Services(load_settings())
    app = Flask(__name__)
    app.extensions["gateway"] = services
    app.config["MAX_CONTENT_LENGTH"] = None  # the intake enforces its own limit with a 413 body
    app.register_blueprint(intake)
    quarantine.register(app)
    register_deliveries_api(app)
    register_receipts_api(app)
    register_dashboard(app, services)
    # The plain status and quarantine pages are for regional coordinators and
    # administrators signed in to the dashboard, like every page showing case data.
    app.register_blueprint(status_page)
    quarantine_page.register(app)
    for blueprint in ("status", "quarantine_page"):
        app.before_request_funcs.setdefault(blueprint, []).append(operations_only)

    @app.get("/")
    def home() -> BaseResponse:
        """Send people to the dashboard."""
        return redirect("/dashboard/")

    @app.get("/api/v1/openapi.json")
    def openapi() -> Response:
        """Serve the OpenAPI document."""
        return jsonify(build_spec())

    @app.get("/healthz")
    def healthz() -> Response:
        """Say the process is alive."""
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        """Say whether the database answers and the directory loaded."""
        checks = {"database": services.db.ping()}
        try:
            checks["directory"] = len(services.directory.authorities) > 0
        except Exception:
            checks["directory"] = False
        ready = all(checks.values())
        return jsonify({"status": "ready" if ready else "not ready", "checks": checks}), (
            200 if ready else 503)

    @app.after_request
    def security_headers(response: Response) -> Response:
        """Add the headers every page and answer carries."""
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
