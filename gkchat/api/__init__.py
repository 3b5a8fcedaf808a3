"""The HTTP and WebSocket edge: parse, authenticate, map errors. No SQL here."""
