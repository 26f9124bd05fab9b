"""Compact adapter."""
