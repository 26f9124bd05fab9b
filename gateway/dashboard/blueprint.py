"""The dashboard blueprint: who is signed in, CSRF on every post, and security headers."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from gateway.accounts.roles import Viewer
from gateway.accounts.sessions import LiveSession, csrf_matches, load_session
from gateway.accounts.users import viewer_for
from gateway.services import Services
from gateway.store import audit
from gateway.store.account_models import UserSessionRow

dashboard = Blueprint("dashboard", __name__, url_prefix="/dashboard",
                      template_folder="templates", static_folder="static",
                      static_url_path="/static")

SESSION_COOKIE = "gw_session"
LOGIN_CSRF_COOKIE = "gw_login_csrf"
# Pages reachable without signing in.
PUBLIC_ENDPOINTS = frozenset({"dashboard.login", "dashboard.static", "dashboard.govuk_asset"})
# Reachable while a second factor is still owed.
SECOND_FACTOR_ENDPOINTS = frozenset({"dashboard.login_code", "dashboard.logout"})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'")


def services() -> Services:
    """Return the app's Services."""
    found: Services = current_app.extensions["gateway"]
    return found


def now() -> datetime:
    """Return the services' now (a fake clock in tests)."""
    return services().clock()


def viewer() -> Viewer:
    """Return the signed-in viewer of this request (pages run only when there is one)."""
    found: Viewer = g.viewer
    return found


def record(action: str, subject_type: str, subject_id: str,
           detail: dict[str, Any] | None = None) -> None:
    """Write one audit entry as the signed-in viewer."""
    with services().db.unit_of_work() as session:
        audit.record(session, at=now(), actor=viewer().actor, action=action,
                     subject_type=subject_type, subject_id=subject_id, detail=detail)


def wants_fragment() -> bool:
    """Say whether the request came from the page's own polling script."""
    return request.headers.get("X-Requested-With") == "fetch"


@dashboard.before_request
def authenticate() -> BaseResponse | None:
    """Find the signed-in viewer, send others to sign in, and check CSRF on every post."""
    g.viewer = None
    g.live = None
    if request.endpoint in PUBLIC_ENDPOINTS:
        if request.method == "POST":
            _check_login_csrf()
        return None
    live = _live_session()
    if live is None:
        if wants_fragment() or request.path.endswith(".json"):
            return Response("sign in again", status=401)
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    if live.second_factor_pending and request.endpoint not in SECOND_FACTOR_ENDPOINTS:
        return redirect(url_for("dashboard.login_code"))
    g.live = live
    g.viewer = viewer_for(live.user)
    if request.method == "POST" and not csrf_matches(live.csrf_token,
                                                     request.form.get("csrf_token")):
        abort(400, "The form has expired or did not come from this site: go back and try again")
    return None


def operations_only() -> BaseResponse | None:
    """Guard a page outside /dashboard: signed in, and a role that sees everything."""
    refused = authenticate()
    if refused is not None:
        return refused
    from gateway.accounts.scope import may_see_operations

    if not may_see_operations(viewer()):
        abort(403)
    return None


def _live_session() -> LiveSession | None:
    """Return the session of this request's cookie, touching it when it has been idle."""
    token = request.cookies.get(SESSION_COOKIE)
    at = now()
    with services().db.read() as session:
        live = load_session(session, token, at, touch=False)
        if live is None:
            return None
        row = session.get(UserSessionRow, live.id)
        stale = row is not None and at - row.last_seen_at >= timedelta(minutes=1)
    if stale:
        with services().db.unit_of_work() as session:
            row = session.get(UserSessionRow, live.id)
            if row is not None:
                row.last_seen_at = at
    return live


def _check_login_csrf() -> None:
    """Refuse a sign-in post whose form token does not match its cookie (double submit)."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not csrf_matches(expected, request.form.get("csrf_token")) or not expected:
        abort(400, "The sign-in form has expired: reload the page and try again")


def login_csrf_token() -> str:
    """Return this browser's sign-in form token, making one if needed."""
    token: str = g.get("login_csrf") or request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not token:
        token = secrets.token_urlsafe(32)
    g.login_csrf = token
    return token


@dashboard.after_request
def headers(response: Response) -> Response:
    """Add the security headers of every dashboard answer (and the sign-in CSRF cookie)."""
    apply_security_headers(response)
    token = g.get("login_csrf")
    if token and request.cookies.get(LOGIN_CSRF_COOKIE) != token:
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                            secure=request.is_secure, path="/dashboard")
    return response


def apply_security_headers(response: Response) -> None:
    """Set CSP without inline scripts, HSTS, frame denial and no caching of records."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.endpoint not in ("dashboard.static", "dashboard.govuk_asset"):
        response.headers["Cache-Control"] = "no-store"


@dashboard.app_template_global()
def csrf_token() -> str:
    """Return the CSRF token to put in a form."""
    live: LiveSession | None = g.get("live")
    return live.csrf_token if live is not None else login_csrf_token()


@dashboard.app_template_global()
def signed_in() -> Viewer | None:
    """Return the signed-in viewer, for the page header."""
    found: Viewer | None = g.get("viewer")
    return found


@dashboard.app_template_global()
def has_endpoint(name: str) -> bool:
    """Say whether a page exists (the quarantine page is built separately)."""
    return name in current_app.view_functions


@dashboard.app_template_filter("when")
def when(value: datetime | None) -> str:
    """Format a time for people: 17 Mar 2026 10:00."""
    return value.strftime("%d %b %Y %H:%M") if value else ""


@dashboard.app_template_filter("duration")
def duration(since: datetime | None) -> str:
    """Say how long ago `since` was, in days and hours (time missing)."""
    if since is None:
        return ""
    delta = now() - since
    hours = max(0, int(delta.total_seconds() // 3600))
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    minutes = max(0, int(delta.total_seconds() // 60) % 60)
    return f"{hours} h {minutes} min"


def page(template: str, **context: Any) -> str:
    """Render a dashboard page."""
    return render_template(template, **context)


def role_required(check: Callable[[Viewer], bool]) -> None:
    """Refuse the request with 403 unless the viewer passes `check`."""
    if not check(viewer()):
        abort(403)


_ERRORS = {
    400: ("There is a problem with the request", "The form has expired or was not complete."),
    403: ("You do not have access to this page",
          "Your account cannot see this record. The attempt has been written to the audit log."),
    404: ("Page not found", "There is nothing at this address."),
}


@dashboard.errorhandler(400)
@dashboard.errorhandler(403)
@dashboard.errorhandler(404)
def error_page(error: HTTPException) -> tuple[str, int]:
    """Render an error in the dashboard's style."""
    code = error.code or 500
    heading, message = _ERRORS.get(code, ("Something went wrong", ""))
    if code == 400 and error.description and "form" in error.description:
        message = error.description
    return page("error.html", heading=heading, message=message), code
