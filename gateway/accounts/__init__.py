"""Dashboard accounts: users with roles, passwords, second factors, sessions and scope."""
