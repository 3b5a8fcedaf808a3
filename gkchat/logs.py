"""A logging filter that keeps secrets out of log lines, whatever the level.

At ``debug`` the WebSocket protocol logs every handshake header and every frame: Bearer
tokens, session and CSRF cookies, the ``auth`` frame's token and message contents. This
filter, on every handler ``gkchat serve`` configures, blanks them before they are written.
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
