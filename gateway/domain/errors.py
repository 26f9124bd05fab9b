"""Typed errors of the gateway: invalid input, illegal transitions, routing gaps."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One reason a message was rejected: the field, the offending value and the rule."""

    field: str
    message: str
    value: str | None = None

    def __str__(self) -> str:
        """Render as `field: 'value' message`, the form shown to senders and coordinators."""
        if self.value is None:
            return f"{self.field}: {self.message}"
        return f"{self.field}: {self.value!r} {self.message}"

    def as_dict(self) -> dict[str, str | None]:
        """Return the JSON form used in API answers and stored with quarantined messages."""
        return {"field": self.field, "value": self.value, "message": self.message}


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class InvalidMessage(GatewayError):
    """Input that can never be accepted as it is: never retried, quarantined with reasons."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors) or "invalid message")


class IllegalTransition(GatewayError):
    """An event that the episode's current state does not allow."""

    def __init__(self, state: str, event: str) -> None:
        self.state = state
        self.event = event
        super().__init__(f"episode is {state}: {event} is not allowed")


class UnknownAdapter(GatewayError):
    """A format name that no adapter is registered under."""
