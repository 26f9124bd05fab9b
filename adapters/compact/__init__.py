"""COMPACT adapter: the police missing-person case system's notification XML."""

from adapters.compact.adapter import CompactAdapter

__all__ = ["CompactAdapter"]
