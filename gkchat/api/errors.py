"""Every error leaves as ``{"error": {"code", "message"}}`` with the right status."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from gkchat.api.schemas import ErrorOut
from gkchat.db.engine import UNAVAILABLE_MESSAGE, is_transient
from gkchat.domain import errors

log = logging.getLogger("gkchat.api")

_STATUS: list[tuple[type[errors.DomainError], int]] = [
    (errors.InvalidInput, 422),
    (errors.TooLarge, 413),
    (errors.NotAuthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.RateLimited, 429),
    (errors.Unavailable, 503),
]

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}

_HTTP_MESSAGES = {
    404: "There is nothing at this address.",
    405: "This address does not accept that method.",
}
_DEFAULT_DETAILS = {"Not Found", "Method Not Allowed"}
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "Malformed request (the body is not readable as JSON text)",
        401: "Not authenticated, or the session is dead",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        413: "Too large",
        422: "Invalid input",
        429: "Rate limited (see Retry-After)",
        503: "The database is unavailable right now; retry after Retry-After seconds",
    }.items()
}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def status_for(exc: errors.DomainError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DomainError)
    headers = None
    if isinstance(exc, errors.RateLimited | errors.Unavailable):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(status_for(exc), exc.code, exc.message, headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return error_response(422, "invalid_json", "The request body is not valid JSON.")
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = str(first.get("msg", "invalid input"))
    sentence = f"{where}: {message}." if where else f"{message}."
    return error_response(422, "invalid_request", sentence)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = _HTTP_MESSAGES.get(exc.status_code, "")
    if isinstance(exc.detail, str) and exc.detail not in _DEFAULT_DETAILS:
        message = exc.detail
    message = message or "The request failed."
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(exc.status_code, code, message, headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    if is_transient(exc):  # a database failure that escaped Database.read()/write()
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        unavailable = errors.Unavailable(UNAVAILABLE_MESSAGE)
        return await _domain_error(request, unavailable)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Something went wrong on our side.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this request's path.

    Starlette's own 405 names only the methods of the first route matching the path, while
    several routes may share it (``GET`` and ``POST /blocks`` are two).
    """
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]
