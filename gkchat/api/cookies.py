"""The browser's session cookie and its CSRF companion (double-submit)."""

import secrets

from fastapi import Request, Response

from gkchat.config import Settings

SESSION_COOKIE = "gkchat_session"
CSRF_COOKIE = "gkchat_csrf"
CSRF_HEADER = "X-CSRF-Token"


def _secure(request: Request, settings: Settings) -> bool:
    if settings.cookie_secure == "always":
        return True
    if settings.cookie_secure == "never":
        return False
    return request.url.scheme == "https"


def set_session_cookies(
    response: Response, request: Request, settings: Settings, *, token: str, max_age: int
) -> None:
    """Set the HttpOnly session cookie and a script-readable CSRF token for writes."""
    secure = _secure(request, settings)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax", secure=secure
    )
    response.set_cookie(
        CSRF_COOKIE,
        secrets.token_urlsafe(24),
        max_age=max_age,
        httponly=False,
        samesite="strict",
        secure=secure,
    )


def clear_session_cookies(response: Response, request: Request, settings: Settings) -> None:
    secure = _secure(request, settings)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=secure)
    response.delete_cookie(CSRF_COOKIE, samesite="strict", secure=secure)


def csrf_ok(request: Request) -> bool:
    """A cookie-authenticated write must echo the CSRF cookie in the X-CSRF-Token header."""
    cookie = request.cookies.get(CSRF_COOKIE)
    header = request.headers.get(CSRF_HEADER)
    return bool(cookie and header and secrets.compare_digest(cookie, header))
