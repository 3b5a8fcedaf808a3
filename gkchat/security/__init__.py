"""Password hashing, password rules and session tokens."""
