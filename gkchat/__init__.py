"""GK-Chat: a self-hostable chat and social server."""

__version__ = "0.1.0"
