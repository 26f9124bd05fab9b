"""Delivery: sign and encrypt, send by a transport, keep the outbox honest."""
