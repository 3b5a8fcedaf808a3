"""What the server logged at ERROR: uvicorn's own records included, filtered as ``gkchat serve``
filters them (a client's protocol fault is a warning, see gkchat.logs)."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gkchat.logs import ClientFaultFilter


@contextmanager
def server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """Yield a list that, once the block is over, holds every record at ERROR or above."""
    caplog.set_level(logging.ERROR)
    uvicorn = logging.getLogger("uvicorn.error")
    client_faults = ClientFaultFilter()
    uvicorn.addFilter(client_faults)
    uvicorn.addHandler(caplog.handler)
    errors: list[logging.LogRecord] = []
    try:
        yield errors
    finally:
        uvicorn.removeHandler(caplog.handler)
        uvicorn.removeFilter(client_faults)
        errors.extend(r for r in caplog.records if r.levelno >= logging.ERROR)
