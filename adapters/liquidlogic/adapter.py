"""The Liquidlogic LCS adapter: feed files out, feed responses and RHI exports back."""

from __future__ import annotations

from adapters.base import Rendered
from adapters.case_receipts import ImportedFile, read_import
from adapters.liquidlogic import render, responses
from gateway.domain.model import Notification
from gateway.domain.receipts import CaseSystemReceipt, RhiOutcome


class LiquidlogicAdapter:
    """Renders LCS missing-person feed files and reads what an LCS council writes back."""

    name = "liquidlogic"

    def render(self, notification: Notification, profile: str) -> Rendered:
        """Render `notification` as an LCS feed file under minimisation `profile`."""
        return render.render_liquidlogic(notification, profile)

    def read_import(self, content: bytes) -> ImportedFile:
        """Read back the reference and offered person key of a rendered feed file."""
        return read_import(content, f"{{{render.NAMESPACE}}}{render.ROOT}")

    def parse_receipt(self, raw: bytes) -> CaseSystemReceipt:
        """Parse an LcsFeedResponse file."""
        return responses.parse_receipt(raw)

    def parse_rhi_outcome(self, raw: bytes) -> RhiOutcome:
        """Parse an LCS Return Home Interview export (confidential notes dropped)."""
        return responses.parse_rhi_outcome(raw)

    def write_receipt(self, receipt: CaseSystemReceipt, source_file: str | None = None) -> bytes:
        """Write the feed response an LCS council would send for `receipt`."""
        return responses.write_receipt(receipt, source_file)

    def write_rhi_export(self, outcome: RhiOutcome, sensitive: str | None = None) -> bytes:
        """Write the RHI export an LCS council would send for `outcome`."""
        return responses.write_rhi_export(outcome, sensitive)
