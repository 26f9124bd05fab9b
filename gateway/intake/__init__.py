"""Intake: the HTTP API, the SFTP poller, sender authentication and quarantine."""
