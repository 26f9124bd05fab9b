"""Secure mail: a plain text and HTML summary for authorities with no case-system import."""

from adapters.secure_mail.adapter import SecureMailAdapter

__all__ = ["SecureMailAdapter"]
