"""Browser fixtures: Debian's Chromium driven by the Python Playwright package, and axe-core."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, need_server
from tests.support.dashboard import cheap_password_hashing

CHROMIUM = os.environ.get("GATEWAY_CHROMIUM", "/usr/bin/chromium")
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "test-output" / "screenshots"


@pytest.fixture(autouse=True)
def _fast_password_hashing() -> Iterator[None]:
    """Hash with argon2's cheapest profile: the browser tests are not about its cost."""
    with cheap_password_hashing():
        yield


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Start one headless Chromium for the whole run (Debian's, never a downloaded build)."""
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        need_server(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need_server("the Python playwright package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """Yield a fresh page (own cookies) that records CSP violations and script errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text)
            if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """Return axe-core's script, installed from npm (`npm ci`)."""
    if not AXE.exists():
        need_server(f"axe-core at {AXE} (run `npm ci`)")
    return AXE.read_text(encoding="utf-8")


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-output/screenshots and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
