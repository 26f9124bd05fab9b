"""Coordinator web pages: the minimal status page and the full dashboard under /dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from gateway.services import Services


def register(app: Flask, services: Services) -> None:
    """Add the coordinator dashboard to `app` (see gateway.dashboard.web.register)."""
    from gateway.dashboard.web import register as register_dashboard

    register_dashboard(app, services)
