"""Persistence: SQLAlchemy models, the unit of work, the audit chain and migrations."""
