"""Plug tracking into a running gateway: listeners on the pipeline and the outbox.

Either call `install(services)` once Services is built, or, from inside Services' own
`pipeline` and `outbox` properties, `attach_pipeline(self, pipeline)` and
`attach_outbox(self, outbox)` (these never touch the property being built).
"""

from __future__ import annotations

from typing import Any

from gateway.pipeline import Pipeline
from gateway.tracking.service import Tracker

_ATTRIBUTE = "_tracker"


def tracker(services: Any, pipeline: Pipeline | None = None) -> Tracker:
    """Return the Tracker of these Services, built on first use (on `pipeline` if given)."""
    existing = getattr(services, _ATTRIBUTE, None)
    if isinstance(existing, Tracker):
        return existing
    writer = pipeline if pipeline is not None else services.pipeline
    existing = getattr(services, _ATTRIBUTE, None)  # Services builds it with its pipeline
    if isinstance(existing, Tracker):
        return existing
    built = Tracker(services.db, services.directory, writer, enqueue=writer.enqueue)
    setattr(services, _ATTRIBUTE, built)
    return built


def attach_pipeline(services: Any, pipeline: Pipeline) -> None:
    """Append tracking's event listener to `pipeline` (once)."""
    listener = tracker(services, pipeline).on_event
    if listener not in pipeline.listeners:
        pipeline.listeners.append(listener)


def attach_outbox(services: Any, outbox: Any) -> None:
    """Append tracking's sent-listener to `outbox` (once)."""
    listener = tracker(services).on_sent
    if listener not in outbox.sent_listeners:
        outbox.sent_listeners.append(listener)


def install(services: Any) -> None:
    """Append tracking's listeners to the pipeline and the outbox (once per Services)."""
    attach_pipeline(services, services.pipeline)
    attach_outbox(services, services.outbox)
