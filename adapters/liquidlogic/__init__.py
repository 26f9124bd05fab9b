"""Liquidlogic LCS (System C) adapter: missing-person feed files, responses and RHI exports."""

from adapters.liquidlogic.adapter import LiquidlogicAdapter

__all__ = ["LiquidlogicAdapter"]
