"""The log filter blanks tokens, cookies and WebSocket frames and leaves the rest alone."""

import logging

from gkchat.logs import RedactSecrets, redact

TOKEN = "C-EhqwXoJzqftgi8vZtm-yh_JKWUpKjikgse5IVlp5g"


def test_bearer_header_is_blanked() -> None:
    """An Authorization header keeps its scheme and loses its token."""
    assert redact(f"< authorization: Bearer {TOKEN}") == "< authorization: Bearer [redacted]"


def test_session_and_csrf_cookies_are_blanked() -> None:
    """The session and CSRF cookie values are blanked, other cookies are kept."""
    line = f"< cookie: theme=dark; gkchat_session={TOKEN}; gkchat_csrf=abc123"
    assert redact(line) == "< cookie: theme=dark; gkchat_session=[redacted]; gkchat_csrf=[redacted]"


def test_csrf_header_is_blanked() -> None:
    """An X-CSRF-Token header loses its value."""
    assert redact("< x-csrf-token: abc123") == "< x-csrf-token: [redacted]"


def test_websocket_frames_are_blanked() -> None:
    """A logged frame keeps its direction and size and loses its content."""
    line = f"""< TEXT '{{"type": "auth", "token": "{TOKEN}"}}' [72 bytes]"""
    assert redact(line) == "< TEXT [redacted] [72 bytes]"


def test_token_fields_are_blanked() -> None:
    """A JSON "token" field anywhere loses its value."""
    assert TOKEN not in redact(f'{{"token": "{TOKEN}"}}')


def test_ordinary_lines_are_unchanged() -> None:
    """An access log line without secrets passes through as it was."""
    line = '127.0.0.1:5000 - "GET /api/v1/me HTTP/1.1" 200'
    assert redact(line) == line


def test_the_filter_rewrites_the_record() -> None:
    """The filter replaces a formatted record's message with the blanked text."""
    record = logging.LogRecord(
        "x", logging.DEBUG, "", 0, "< authorization: %s %s", ("Bearer", TOKEN), None
    )
    assert RedactSecrets().filter(record) is True
    assert TOKEN not in record.getMessage()
