"""Delivery failures, typed by what should happen next: retry, or hold for a person."""

from __future__ import annotations

from gateway.domain.errors import GatewayError


class DeliveryError(GatewayError):
    """A copy could not be delivered this time."""

    permanent: bool = False


class TransientDeliveryError(DeliveryError):
    """The far end may accept later (connection refused, timeout, 4xx): retry with backoff."""


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help (wrong host key, 5xx, bad certificate): hold and tell a coordinator."""

    permanent = True
