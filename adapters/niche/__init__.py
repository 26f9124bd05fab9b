"""Niche adapter."""
