"""The exceptions the SDK raises."""

import json
from typing import Any

import httpx


class APIError(Exception):
    """The server refused a request.

    ``status`` is the HTTP status (None for an ``error`` frame on the WebSocket, which has
    none), ``code`` the contract's snake_case error code (``user_not_found``,
    ``invalid_request``, ...), ``message`` the human sentence, and ``retry_after`` the seconds
    of a ``Retry-After`` header (429, 503) when the server sent one.
    """

    def __init__(
        self, status: int | None, code: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status or 'ws'} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"APIError(status={self.status!r}, code={self.code!r}, message={self.message!r}, "
            f"retry_after={self.retry_after!r})"
        )

    @classmethod
    def from_response(cls, response: httpx.Response) -> "APIError":
        """Build the error from a 4xx/5xx response, in the contract's shape or not."""
        code, message = f"http_{response.status_code}", response.reason_phrase or "error"
        try:
            body: Any = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code = str(error.get("code", code))
            message = str(error.get("message", message))
        elif response.text:
            message = response.text[:200]
        return cls(response.status_code, code, message, _retry_after(response))

    @classmethod
    def from_frame(cls, data: dict[str, Any]) -> "APIError":
        """Build the error from the ``data`` of a WebSocket ``error`` frame."""
        return cls(None, str(data.get("code", "error")), str(data.get("message", "")))


class RealtimeClosed(Exception):
    """The WebSocket closed abnormally: ``code`` is the close code (1006 when the connection
    dropped without one), for example 1013 (too slow to read) or 1009 (frame too large)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"WebSocket closed with {code}" + (f": {reason}" if reason else ""))
        self.code = code
        self.reason = reason


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None  # an HTTP date: rare enough to ignore
