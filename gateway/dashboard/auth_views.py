"""Sign in (password, then a code when the user has a second factor) and sign out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, make_response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from gateway.accounts import throttle
from gateway.accounts.sessions import (
    ABSOLUTE_TIMEOUT,
    complete_second_factor,
    end_session,
    start_session,
)
from gateway.accounts.totp import verify_code
from gateway.accounts.users import check_password
from gateway.dashboard.blueprint import (
    SESSION_COOKIE,
    dashboard,
    now,
    page,
    services,
    viewer,
)
from gateway.store import audit
from gateway.store.account_models import UserRow


def _safe_next(target: str | None) -> str:
    """Return `target` if it is a path on this site's dashboard, else the Today page."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/dashboard"):
            return target
    return url_for("dashboard.today")


@dashboard.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int] | str:
    """Show the sign-in form, or check a user name and password."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return page("login.html", next_url=next_url, errors={}, username="")
    username = (request.form.get("username") or "").strip().lower()
    password = request.form.get("password") or ""
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "Enter your user name"
    if not password:
        errors["password"] = "Enter your password"  # noqa: S105 - a message, not a secret
    if errors:
        return page("login.html", next_url=next_url, errors=errors, username=username), 400
    address = request.remote_addr or "unknown"
    at = now()
    token: str | None = None
    with services().db.unit_of_work() as session:
        if throttle.is_locked(session, username, address, at):
            audit.record(session, at=at, actor=f"login:{username}", action="login.throttled",
                         subject_type="user", subject_id=username, detail={"from": address})
            locked = True
            user = None
        else:
            locked = False
            user = check_password(session, username, password)
            throttle.record_attempt(session, username, address, at, user is not None)
            audit.record(session, at=at, actor=f"login:{username}",
                         action="login.succeeded" if user else "login.failed",
                         subject_type="user", subject_id=user.id if user else username,
                         detail={"from": address})
            if user is not None:
                token = start_session(session, user, at,
                                      second_factor_pending=user.totp_secret is not None)
                if user.totp_secret is None:
                    user.last_login_at = at
    if locked:
        errors["username"] = ("Too many failed attempts to sign in: wait 15 minutes and try "
                              "again")
        return page("login.html", next_url=next_url, errors=errors, username=username), 429
    if user is None or token is None:
        errors["password"] = "The user name or password is not right"  # noqa: S105
        return page("login.html", next_url=next_url, errors=errors, username=username), 401
    target = (url_for("dashboard.login_code", next=next_url) if user.totp_secret
              else next_url)
    response = make_response(redirect(target))
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Lax",
                        secure=request.is_secure, path="/",
                        max_age=int(ABSOLUTE_TIMEOUT.total_seconds()))
    return response


@dashboard.route("/login/code", methods=["GET", "POST"])
def login_code() -> BaseResponse | tuple[str, int] | str:
    """Ask for, and check, the code from the user's authenticator app."""
    next_url = _safe_next(request.values.get("next"))
    live = g.live
    if not live.second_factor_pending:
        return redirect(next_url)
    if request.method == "GET":
        return page("login_code.html", next_url=next_url, errors={})
    code = request.form.get("code") or ""
    at = now()
    address = request.remote_addr or "unknown"
    username = viewer().username
    with services().db.unit_of_work() as session:
        locked = throttle.is_locked(session, username, address, at)
        user = session.get(UserRow, live.user.id)
        ok = (not locked and user is not None and user.totp_secret is not None
              and verify_code(user.totp_secret, code, at))
        throttle.record_attempt(session, username, address, at, ok)
        audit.record(session, at=at, actor=viewer().actor,
                     action="login.code_accepted" if ok else "login.code_refused",
                     subject_type="user", subject_id=live.user.id, detail={"from": address})
        if ok and user is not None:
            complete_second_factor(session, live.id, at)
            user.last_login_at = at
    if not ok:
        message = ("Too many failed attempts: wait 15 minutes and try again" if locked
                   else "The code is not right: enter the 6 digits your app shows now")
        return page("login_code.html", next_url=next_url, errors={"code": message}), 401
    return redirect(next_url)


@dashboard.post("/logout")
def logout() -> BaseResponse:
    """End the session and go back to the sign-in page."""
    with services().db.unit_of_work() as session:
        end_session(session, request.cookies.get(SESSION_COOKIE), now())
        audit.record(session, at=now(), actor=viewer().actor, action="logout",
                     subject_type="user", subject_id=viewer().user_id)
    response = make_response(redirect(url_for("dashboard.login")))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
