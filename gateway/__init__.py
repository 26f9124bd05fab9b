"""Missing-children notification gateway: police notifications to councils' case systems."""

__version__ = "0.1.0"
