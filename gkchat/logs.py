"""The logging filters ``gkchat serve`` configures.

``RedactSecrets`` keeps secrets out of log lines, whatever the level: at ``debug`` the
WebSocket protocol logs every handshake header and every frame (Bearer tokens, session and
CSRF cookies, the ``auth`` frame's token and message contents); on every handler, it blanks
them before they are written.

``ClientFaultFilter`` logs a client's protocol fault as a one-line warning, not as a server
error with a traceback.
"""

import logging
import re

_PATTERNS = (
    # Handshake and request headers.
    (re.compile(r"(?i)(authorization:\s*\S+\s+)\S+"), r"\1[redacted]"),
    (re.compile(r"(?i)(x-csrf-token:\s*)\S+"), r"\1[redacted]"),
    (re.compile(r"(?i)((?:gkchat_session|gkchat_csrf)=)[^;\s'\"]+"), r"\1[redacted]"),
    # WebSocket frames as the protocol logs them: < TEXT '...' [n bytes]
    (re.compile(r"([<>] (?:TEXT|BINARY) ).*?(\s*\[\d+ bytes\])$", re.DOTALL), r"\1[redacted]\2"),
    # Anything else shaped like a token field.
    (re.compile(r"(?i)(\"token\"\s*:\s*\")[^\"]*"), r"\1[redacted]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


# uvicorn logs this at ERROR, with a traceback, for every text frame that is not UTF-8, and then
# closes that socket with 1007: a client's fault, which any client (signed in or not) can repeat.
CLIENT_SENT_BAD_UTF8 = "Invalid UTF-8 sequence received from client."


class ClientFaultFilter(logging.Filter):
    """Log a client's protocol fault as a one-line warning, not as a server error."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and record.getMessage() == CLIENT_SENT_BAD_UTF8:
            record.levelno = logging.WARNING
            record.levelname = logging.getLevelName(logging.WARNING)
            record.exc_info = None
            record.exc_text = None
        return True
