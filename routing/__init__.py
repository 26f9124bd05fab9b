"""Pure routing: directory, geography, placement, recipients, calendars. No I/O at decision time."""
