"""The canonical model: notifications, children, placements, risk and episodes.

Pure Python: no framework, no database, no I/O. Everything else may import it.
"""
