"""Checks for the error shape of the contract: {"error": {"code", "message"}}."""

import re
from typing import Any

import httpx

_SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert ``response`` is an error of ``status`` (and ``code``) in the contract's shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict), body
    assert set(error) == {"code", "message"}, body
    assert isinstance(error["code"], str), body
    assert _SNAKE_CASE.match(error["code"]), body
    assert isinstance(error["message"], str), body
    assert error["message"].strip(), body
    if code is not None:
        assert error["code"] == code, body
    return error
