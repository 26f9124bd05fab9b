"""The scheduler's tracking task: fire due clocks (run by Celery beat, e.g. every minute)."""

from __future__ import annotations

from typing import Any

from gateway.tracking.wiring import tracker
from gateway.worker import celery_app, get_services


@celery_app.task(name="gateway.tracking.tick")  # type: ignore[untyped-decorator]
def tick() -> dict[str, Any]:
    """Fire every clock due now, once each; return the figures of this tick."""
    services = get_services()
    report = tracker(services).tick(services.clock())
    return {"claimed": report.claimed, "fired": report.fired, "failed": report.failed,
            "breaches": report.breaches, "chases": len(report.deliveries),
            "by_kind": dict(report.by_kind)}
