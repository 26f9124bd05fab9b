"""Liquidlogic adapter."""
