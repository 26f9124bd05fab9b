"""The four dashboard roles and the signed-in person a request acts for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What kind of person a user is, which decides what they may see and do."""

    AUTHORITY = "authority"  # a council's missing coordinator, EDT or front door
    FORCE = "force"  # a police force's missing person co-ordinator
    REGIONAL = "regional"  # a regional or gateway coordinator: sees everything
    ADMIN = "admin"  # runs the gateway: sees everything, manages accounts

    @property
    def label(self) -> str:
        """Return the role as people say it."""
        return _LABELS[self]

    @property
    def needs_organisation(self) -> bool:
        """Say whether users of this role belong to one authority or force."""
        return self in (Role.AUTHORITY, Role.FORCE)

    @property
    def sees_everything(self) -> bool:
        """Say whether this role is unscoped (regional coordinators and administrators)."""
        return self in (Role.REGIONAL, Role.ADMIN)


_LABELS = {
    Role.AUTHORITY: "Authority user",
    Role.FORCE: "Force user",
    Role.REGIONAL: "Regional coordinator",
    Role.ADMIN: "Administrator",
}


@dataclass(frozen=True)
class Viewer:
    """The signed-in person a request is made for."""

    user_id: str
    username: str
    role: Role
    organisation: str | None = None
    display_name: str = ""

    @property
    def actor(self) -> str:
        """Return the name written to the audit log for this person."""
        return f"user:{self.username}"
