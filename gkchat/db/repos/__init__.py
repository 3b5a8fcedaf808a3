"""Async storage functions: a connection in, domain objects out."""
