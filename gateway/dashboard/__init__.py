"""Coordinator web pages."""
