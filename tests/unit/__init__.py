"""Unit tests: pure functions and small objects, no server."""
