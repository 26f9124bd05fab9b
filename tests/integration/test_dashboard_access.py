"""The authorisation matrix: every dashboard route, for every role, in and out of scope.

Each role gets a fresh world (two episodes, A and B; see tests/support/dashboard.py). A page
the role may not see answers 403 and the refusal is audited; one it may see answers 200 (or
acts). Actions are posted confirmed; an allowed action may answer 409 when its target already
moved on, but never 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from gateway.accounts.roles import Role
from gateway.services import Services
from gateway.store.models import AuditEntry
from tests.support.dashboard import USERS, World, build_world, cheap_password_hashing, sign_in


@pytest.fixture(autouse=True)
def _fast_password_hashing() -> Iterator[None]:
    """Hash with argon2's cheapest profile: these tests are about the rules, not the cost."""
    with cheap_password_hashing():
        yield

@dataclass(frozen=True)
class Route:
    """One route to try: how to call it for an episode key and who may use it."""

    name: str
    method: str
    path: Callable[[World, str], str]
    allowed: Callable[[Role, bool], bool]  # (role, episode in scope) → may use
    data: Callable[[World, str], dict[str, str]] = lambda world, key: {}
    scoped: bool = True  # False: the route is not about one episode


def _everyone(role: Role, in_scope: bool) -> bool:
    return True


def _in_scope(role: Role, in_scope: bool) -> bool:
    return in_scope


def _operations(role: Role, in_scope: bool) -> bool:
    return role.sees_everything


def _resend(role: Role, in_scope: bool) -> bool:
    # A held copy to Kent (A) or Derby (B): that authority's users and coordinators.
    return role.sees_everything or (role is Role.AUTHORITY and in_scope)


def _own_message(role: Role, in_scope: bool) -> bool:
    # A quarantined message: coordinators, and the force that sent it.
    return role.sees_everything or (role is Role.FORCE and in_scope)


def _rhi(role: Role, in_scope: bool) -> bool:
    return role.sees_everything or (role is Role.AUTHORITY and in_scope)


ROUTES = [
    Route("today", "GET", lambda w, k: "/dashboard/today", _everyone, scoped=False),
    Route("today live", "GET", lambda w, k: "/dashboard/today/live", _everyone, scoped=False),
    Route("deliveries", "GET", lambda w, k: "/dashboard/deliveries", _everyone, scoped=False),
    Route("deliveries live", "GET", lambda w, k: "/dashboard/deliveries/live?status=HELD",
          _everyone, scoped=False),
    Route("search", "GET", lambda w, k: "/dashboard/search?police_reference=x", _everyone,
          scoped=False),
    Route("authorities", "GET", lambda w, k: "/dashboard/authorities", _operations,
          scoped=False),
    Route("audit", "GET", lambda w, k: "/dashboard/audit", _operations, scoped=False),
    Route("episode", "GET", lambda w, k: f"/dashboard/episodes/{w.episodes[k]}", _in_scope),
    Route("delivery", "GET", lambda w, k: f"/dashboard/deliveries/{w.held[k]}", _in_scope),
    Route("delivery live", "GET", lambda w, k: f"/dashboard/deliveries/{w.held[k]}/live",
          _in_scope),
    Route("item", "GET", lambda w, k: f"/dashboard/items/{w.items[k]}", _in_scope),
    Route("message", "GET", lambda w, k: f"/dashboard/messages/{w.messages[k]}",
          _own_message),
    Route("reprocess", "POST", lambda w, k: f"/dashboard/messages/{w.messages[k]}/reprocess",
          _operations),
    Route("resend", "POST", lambda w, k: f"/dashboard/deliveries/{w.held[k]}/resend", _resend,
          lambda w, k: {"channel": "same"}),
    Route("resolve", "POST", lambda w, k: f"/dashboard/items/{w.items[k]}/resolve", _in_scope,
          lambda w, k: {"note": "phoned the front door"}),
    Route("rhi outcome", "POST", lambda w, k: f"/dashboard/episodes/{w.episodes[k]}/rhi-outcome",
          _rhi, lambda w, k: {"outcome": "completed", "note": "seen at home"}),
    Route("set responsible", "POST",
          lambda w, k: f"/dashboard/items/{w.items[k]}/responsible", _operations,
          lambda w, k: {"authority": "kent"}),
]


def _denials(world: World, username: str) -> int:
    """Return how many refusals are audited for a user."""
    with world.services.db.read() as session:
        return len(session.execute(select(AuditEntry.seq).where(
            AuditEntry.actor == f"user:{username}",
            AuditEntry.action.like("%denied")).limit(1000)).all())


@pytest.mark.parametrize("username", sorted(USERS))
def test_every_route_for_every_role_in_and_out_of_scope(
        make_services: Callable[..., Services], username: str) -> None:
    world = build_world(make_services())
    role, _, scope = USERS[username]
    client = world.app.test_client()
    token = sign_in(client, username)
    wrong: list[str] = []
    for route in ROUTES:
        for key in ("A", "B") if route.scoped else ("-",):
            in_scope = key in scope
            allowed = route.allowed(role, in_scope)
            before = _denials(world, username)
            path = route.path(world, key)
            if route.method == "GET":
                response = client.get(path)
            else:
                response = client.post(path, data={**route.data(world, key), "confirm": "yes",
                                                   "csrf_token": token})
            status = response.status_code
            audited = _denials(world, username) > before
            case = f"{route.name} {key} ({'in' if in_scope else 'out of'} scope)"
            if allowed and (status == 403 or audited):
                wrong.append(f"{case}: refused ({status}) but should be allowed")
            if allowed and status not in (200, 302, 409):
                wrong.append(f"{case}: answered {status}")
            if not allowed and status != 403:
                wrong.append(f"{case}: answered {status} but should be refused")
            if not allowed and route.scoped and not audited:
                wrong.append(f"{case}: refused without an audit entry")
    assert not wrong, f"{username} ({role.value}):\n" + "\n".join(wrong)


def test_signed_out_visitors_are_sent_to_sign_in(make_services: Callable[..., Services]
                                                 ) -> None:
    world = build_world(make_services())
    client = world.app.test_client()
    for route in ROUTES:
        path = route.path(world, "A")
        response = client.get(path) if route.method == "GET" else client.post(path)
        if route.method == "GET" and not path.endswith("/live"):
            assert response.status_code == 302, path
            assert response.headers["Location"].startswith("/dashboard/login")
        else:
            assert response.status_code in (302, 401), path
