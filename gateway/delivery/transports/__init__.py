"""Transports behind one port: `send(message) -> TransportReceipt`."""
