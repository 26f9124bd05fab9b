"""The Mosaic case-system adapter: import files out, import results and RHI exports back."""

from __future__ import annotations

from adapters.base import Rendered
from adapters.case_receipts import ImportedFile, read_import
from adapters.mosaic import render, results
from gateway.domain.model import Notification
from gateway.domain.receipts import CaseSystemReceipt, RhiOutcome


class MosaicAdapter:
    """Renders Mosaic import files and reads what a Mosaic council writes back."""

    name = "mosaic"

    def render(self, notification: Notification, profile: str) -> Rendered:
        """Render `notification` as a Mosaic import file under minimisation `profile`."""
        return render.render_mosaic(notification, profile)

    def read_import(self, content: bytes) -> ImportedFile:
        """Read back the reference and offered person key of a rendered import file."""
        return read_import(content, f"{{{render.NAMESPACE}}}{render.ROOT}")

    def parse_receipt(self, raw: bytes) -> CaseSystemReceipt:
        """Parse a MosaicImportResult file."""
        return results.parse_receipt(raw)

    def parse_rhi_outcome(self, raw: bytes) -> RhiOutcome:
        """Parse a Mosaic RHI form export (sensitive disclosures dropped)."""
        return results.parse_rhi_outcome(raw)

    def write_receipt(self, receipt: CaseSystemReceipt, source_file: str | None = None) -> bytes:
        """Write the import result a Mosaic council would send for `receipt`."""
        return results.write_receipt(receipt, source_file)

    def write_rhi_export(self, outcome: RhiOutcome, sensitive: str | None = None) -> bytes:
        """Write the RHI form export a Mosaic council would send for `outcome`."""
        return results.write_rhi_export(outcome, sensitive)
