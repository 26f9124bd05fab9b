"""What routing decides: recipients with channel, role and reason, and coordinator items.

These types live in the domain so that `routing/` (which decides) and the service layer
(which stores and delivers) share them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.domain.enums import RecipientRole


@dataclass(frozen=True)
class Channel:
    """How one team receives copies: a transport, an address and the rendering it reads."""

    kind: str  # "folder" | "sftp" | "smtp"
    address: str  # folder path, sftp://user@host:port/path, or mailbox address
    rendering: str = "canonical_json"  # case-system adapter name: mosaic, liquidlogic, ...
    encryption: str = "cms"  # "cms" | "pgp" | "none"
    certificate: str | None = None  # recipient certificate (or PGP key) file
    options: tuple[tuple[str, str], ...] = ()

    @property
    def endpoint(self) -> str:
        """Return a stable name of the far end, used for circuit breaking and display."""
        return f"{self.kind}:{self.address}"


@dataclass(frozen=True)
class Recipient:
    """One copy to send: which authority and team, in which role, by which channel, and why."""

    authority: str
    team: str
    role: RecipientRole
    channel: Channel
    reason: str
    profile: str = "action"  # data-minimisation profile applied when rendering


@dataclass(frozen=True)
class CoordinatorItem:
    """Something a person must look at: an unroutable notification, an unknown authority."""

    kind: str
    message: str
    authority: str | None = None


@dataclass(frozen=True)
class RoutingDecision:
    """The whole routing answer for one notification; never empty of both lists."""

    recipients: tuple[Recipient, ...] = ()
    items: tuple[CoordinatorItem, ...] = ()
    explanation: tuple[str, ...] = field(default=())
    # The authorities placement resolution found (directory ids), for the episode record.
    home: str | None = None
    responsible: str | None = None
    host: str | None = None
