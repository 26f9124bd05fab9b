"""Translators between outside formats and the canonical model. No network, no database."""
