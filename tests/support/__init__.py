"""Real servers for integration tests and benchmarks: OpenSSH sshd and an SMTP server with STARTTLS.

Each starts on 127.0.0.1 on a free port, in a temporary directory, and is stopped by its owner.
"""
