"""Where the govuk-frontend package was installed (npm, at set-up; never committed)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@cache
def govuk_assets_dir() -> Path | None:
    """Return govuk-frontend's dist/govuk folder, or None if `npm ci` has not been run.

    GOVUK_FRONTEND_DIR may name the package folder (node_modules/govuk-frontend) elsewhere.
    """
    package = Path(os.environ.get("GOVUK_FRONTEND_DIR") or REPO / "node_modules" /
                   "govuk-frontend")
    folder = package / "dist" / "govuk"
    return folder if (folder / "govuk-frontend.min.css").is_file() else None
