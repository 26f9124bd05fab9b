"""The local folder transport (embedded default): atomic write into a drop folder."""

from __future__ import annotations

import os
from pathlib import Path

from gateway.delivery.errors import PermanentDeliveryError, TransientDeliveryError
from gateway.delivery.transports.base import OutboundMessage, TransportReceipt


class FolderTransport:
    """Writes each copy as `<delivery id><suffix>` into the channel's folder, atomically.

    A relative channel address is resolved under `root`. The file is written to `.part`,
    flushed to disk, then renamed, so a reader never sees half a file; an existing final
    file means the copy was already delivered.
    """

    kind = "folder"

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder_for(self, address: str) -> Path:
        """Return the absolute folder a channel address names."""
        path = Path(address)
        return path if path.is_absolute() else self.root / path

    def send(self, message: OutboundMessage) -> TransportReceipt:
        """Write the copy into its folder; raise a typed error when the folder is unusable."""
        folder = self.folder_for(message.channel.address)
        final = folder / message.filename
        if final.exists():
            return TransportReceipt(reference=str(final), already_delivered=True)
        part = folder / f"{message.filename}.part"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(part, "wb") as handle:
                handle.write(message.content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(part, final)
            _fsync_dir(folder)
        except PermissionError as exc:
            raise PermanentDeliveryError(f"drop folder {folder} is not writable: {exc}") from exc
        except OSError as exc:
            # A full disk or an unmounted share may recover: retry with backoff.
            raise TransientDeliveryError(f"cannot write to {folder}: {exc}") from exc
        return TransportReceipt(reference=str(final))

    def close(self) -> None:
        """Nothing to release for a local folder."""


def _fsync_dir(folder: Path) -> None:
    """Flush a directory entry so the rename survives a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
