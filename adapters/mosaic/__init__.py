"""Mosaic (Access Group) adapter: import files, import results and RHI form exports."""

from adapters.mosaic.adapter import MosaicAdapter

__all__ = ["MosaicAdapter"]
