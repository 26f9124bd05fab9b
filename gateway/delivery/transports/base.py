"""The transport port: what every channel (folder, SFTP, SMTP) implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.domain.routing import Channel


@dataclass(frozen=True)
class OutboundMessage:
    """One protected copy ready to leave: already signed and encrypted for its recipient.

    For file channels `content` is the file body (e.g. a CMS `.p7m`); for mail it is the
    S/MIME entity (headers and body) that the mail transport wraps in an envelope.
    """

    delivery_id: str
    channel: Channel
    content: bytes
    suffix: str  # file name suffix, e.g. ".p7m" or ".json"
    media_type: str = "application/pkcs7-mime"

    @property
    def filename(self) -> str:
        """Return the file name on the receiving side, named by delivery id (idempotent)."""
        return f"{self.delivery_id}{self.suffix}"


@dataclass(frozen=True)
class TransportReceipt:
    """What a transport says about a completed send."""

    reference: str  # remote path or Message-ID
    already_delivered: bool = False
    detail: str = ""


class Transport(Protocol):
    """Sends protected copies over one kind of channel; may keep connections open."""

    kind: str

    def send(self, message: OutboundMessage) -> TransportReceipt:
        """Deliver `message`; raise TransientDeliveryError or PermanentDeliveryError on failure."""
        ...

    def close(self) -> None:
        """Release any open connections."""
        ...
