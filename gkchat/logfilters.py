"""Logging filters for the server's log configuration."""

import logging

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
