"""Canonical JSON rendering: the gateway's own interchange form, minimised by role."""
