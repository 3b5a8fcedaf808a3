"""Integration tests against real SQLite and PostgreSQL databases."""
