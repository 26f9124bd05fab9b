"""The Celery app and its thin tasks: each takes ids and calls the service layer.

The database is the source of truth; the broker only carries ids. A task message that is
lost (broker restart, crash between commit and send) is re-found by the periodic sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from celery import Celery

from gateway.services import Services
from gateway.settings import load_settings

log = logging.getLogger(__name__)

_services: Services | None = None


def get_services() -> Services:
    """Return this process's Services, built on first use from the environment."""
    global _services
    if _services is None:
        _services = Services(load_settings())
    return _services


def set_services(services: Services | None) -> None:
    """Install the Services this process's tasks use (the CLI and tests do this)."""
    global _services
    _services = services


def make_celery() -> Celery:
    """Create the Celery app bound to the configured broker, with late acks everywhere."""
    settings = load_settings()
    app = Celery("gateway", broker=settings.broker_url, include=["gateway.tracking.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # Redis redelivers an unacknowledged task after this long (a worker that died).
        broker_transport_options=(
            {"visibility_timeout": 3600} if settings.broker_url.startswith("redis") else {}),
        beat_schedule={
            "sweep": {"task": "gateway.sweep", "schedule": float(settings.sweep_seconds)},
            "poll-sftp": {"task": "gateway.poll_sftp", "schedule": float(settings.pull_seconds)},
            "poll-acks": {"task": "gateway.poll_acks", "schedule": float(settings.pull_seconds)},
            "tracking-tick": {"task": "gateway.tracking.tick", "schedule": 60.0},
        },
        timezone="UTC",
    )
    return app


celery_app = make_celery()


@celery_app.task(name="gateway.deliver")  # type: ignore[untyped-decorator]
def deliver(delivery_id: str) -> str:
    """Send one delivery; if it was deferred, schedule the retry at its due time."""
    services = get_services()
    status = services.outbox.deliver_one(delivery_id)
    if status == "PENDING":
        from gateway.store.models import DeliveryRow

        with services.db.read() as session:
            row = session.get(DeliveryRow, delivery_id)
            due = row.next_attempt_at if row else None
        if due is not None:
            delay = max((due - services.clock()).total_seconds(), 0.0)
            deliver.apply_async((delivery_id,), countdown=delay)
    return status


@celery_app.task(name="gateway.process_inbound")  # type: ignore[untyped-decorator]
def process_inbound(inbound_id: str) -> str:
    """Parse and apply one stored inbound message."""
    return str(get_services().pipeline.process(inbound_id).status.value)


@celery_app.task(name="gateway.sweep")  # type: ignore[untyped-decorator]
def sweep() -> dict[str, Any]:
    """Re-queue deliveries and messages a lost task or a dead worker left behind."""
    services = get_services()
    report = services.outbox.sweep(
        stuck_after=timedelta(seconds=services.settings.stuck_after_seconds))
    return {"requeued": report.requeued, "reclaimed": report.reclaimed,
            "reprocessed": report.reprocessed}


@celery_app.task(name="gateway.poll_sftp")  # type: ignore[untyped-decorator]
def poll_sftp() -> list[dict[str, Any]]:
    """Take files from every force that drops them on SFTP."""
    from gateway.intake.sftp_poller import poll_forces

    return [report.as_dict() for report in poll_forces(get_services())]


@celery_app.task(name="gateway.poll_acks")  # type: ignore[untyped-decorator]
def poll_acks() -> list[dict[str, Any]]:
    """Take receipts and RHI exports from councils' acks folders."""
    from gateway.intake.acks_poller import poll_acks as poll

    return [report.as_dict() for report in poll(get_services())]


def enqueue_deliveries(ids: Iterable[str]) -> None:
    """Send one task per delivery id; a broker failure is logged, the sweep recovers it."""
    for delivery_id in ids:
        try:
            deliver.delay(delivery_id)
        except Exception:  # the row is committed; the sweep re-sends it
            log.exception("could not enqueue delivery %s; the sweep will pick it up",
                          delivery_id)
