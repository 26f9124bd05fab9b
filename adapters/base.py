"""The ports every adapter implements: police formats in, case-system formats out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.domain.model import Notification


@dataclass(frozen=True)
class Rendered:
    """A rendered copy for one recipient: the bytes, their media type and a file suffix."""

    content: bytes
    media_type: str
    suffix: str


class PoliceAdapter(Protocol):
    """Reads one police export format into canonical notifications."""

    name: str

    def parse(self, raw: bytes, overrides: Mapping[str, Any] | None = None) -> Notification:
        """Parse one message; raise InvalidMessage with field-level reasons if it is not valid.

        `overrides` is the sending force's mapping configuration (config/forces/<force>.yaml).
        """
        ...


class CaseSystemAdapter(Protocol):
    """Renders canonical notifications into what one council case system imports."""

    name: str

    def render(self, notification: Notification, profile: str) -> Rendered:
        """Render `notification` as this system's import file under minimisation `profile`."""
        ...
