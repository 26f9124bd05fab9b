"""Niche adapter: the police records system's missing person occurrence enquiry XML."""

from adapters.niche.adapter import NicheAdapter

__all__ = ["NicheAdapter"]
