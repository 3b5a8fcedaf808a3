"""A client's protocol fault is logged as a one-line warning, never as a server error.

uvicorn logs a text frame that is not UTF-8 at ERROR with a traceback before it closes the
socket with 1007; any client can send such frames, so the server's log configuration turns
that record into a warning (tests/hostile/test_ws_fuzz.py sends them).
"""

import inspect
import logging
import sys

from uvicorn.protocols.websockets import websockets_sansio_impl

from gkchat.cli import _log_config
from gkchat.logs import CLIENT_SENT_BAD_UTF8, ClientFaultFilter


def uvicorn_record(message: str, level: int = logging.ERROR) -> logging.LogRecord:
    try:
        b"\xff".decode()
    except UnicodeDecodeError:
        exc_info = sys.exc_info()
    return logging.LogRecord("uvicorn.error", level, __file__, 1, message, None, exc_info)


def test_bad_utf8_from_a_client_becomes_a_warning_without_traceback() -> None:
    """The record is kept, at WARNING, with no exception attached."""
    record = uvicorn_record(CLIENT_SENT_BAD_UTF8)

    kept = ClientFaultFilter().filter(record)

    assert kept
    assert (record.levelno, record.levelname) == (logging.WARNING, "WARNING")
    assert record.exc_info is None


def test_other_errors_stay_errors() -> None:
    """Any other error record passes through unchanged, traceback included."""
    record = uvicorn_record("Exception in ASGI application")

    kept = ClientFaultFilter().filter(record)

    assert kept
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None


def test_the_served_log_configuration_filters_uvicorns_error_logger() -> None:
    """gkchat serve attaches the filter to uvicorn.error."""
    config = _log_config("info")

    assert config["filters"]["client_faults"] == {"()": "gkchat.logs.ClientFaultFilter"}
    assert config["loggers"]["uvicorn.error"]["filters"] == ["client_faults"]


def test_the_filtered_message_is_the_one_uvicorn_logs() -> None:
    """The message matched is uvicorn's own, so an upgrade that rewords it fails here."""
    assert CLIENT_SENT_BAD_UTF8 in inspect.getsource(websockets_sansio_impl)
