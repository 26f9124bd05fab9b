"""Tracking: durable clocks, acknowledgements, Return Home Interviews, escalations, repeats.

Events and sent deliveries start clocks (`listener`); a scheduler tick fires the due ones
once each (`clocks`); firing a clock chases by message (`chase`) or raises a coordinator item.
"""
