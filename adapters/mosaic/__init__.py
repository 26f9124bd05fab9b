"""Mosaic adapter."""
