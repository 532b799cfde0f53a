"""Users, roles and the audit log."""
