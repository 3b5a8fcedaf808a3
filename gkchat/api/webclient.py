"""The browser client: static files from ``gkchat/web`` with headers that keep it safe.

The page may run only its own scripts and styles and talk only to this origin (the CSP), may
not be framed, and never sends a referrer. Assets are revalidated with ETags on every load,
so a new release is picked up without cache-busting file names.
"""

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


class WebAssets(StaticFiles):
    """Static files that carry the client's security headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def install_web_client(app: FastAPI) -> None:
    """Serve the client's page at ``/`` and its files under ``/assets``."""
    router = APIRouter(include_in_schema=False)

    @router.api_route("/", methods=["GET", "HEAD"])
    async def index() -> FileResponse:
        return FileResponse(WEB_ROOT / "index.html", headers=SECURITY_HEADERS)

    app.include_router(router)
    app.mount("/assets", WebAssets(directory=WEB_ROOT), name="assets")
