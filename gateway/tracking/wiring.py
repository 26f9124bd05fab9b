"""Plug tracking into a running gateway: listeners on the pipeline and the outbox."""

from __future__ import annotations

from typing import Any

from gateway.tracking.service import Tracker

_ATTRIBUTE = "_tracker"


def tracker(services: Any) -> Tracker:
    """Return the Tracker of these Services, built on first use."""
    existing = getattr(services, _ATTRIBUTE, None)
    if isinstance(existing, Tracker):
        return existing
    pipeline = services.pipeline
    built = Tracker(services.db, services.directory, pipeline, enqueue=pipeline.enqueue)
    setattr(services, _ATTRIBUTE, built)
    return built


def install(services: Any) -> None:
    """Append tracking's listeners to the pipeline and the outbox (once per Services)."""
    built = tracker(services)
    if built.on_event not in services.pipeline.listeners:
        services.pipeline.listeners.append(built.on_event)
    if built.on_sent not in services.outbox.sent_listeners:
        services.outbox.sent_listeners.append(built.on_sent)
