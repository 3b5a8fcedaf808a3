"""The one composition root: ``create_app(settings)`` builds every service and route."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, WebSocket
from starlette.types import Receive, Scope, Send

from gkchat import __version__
from gkchat.api import ws
from gkchat.api.errors import install_error_handlers
from gkchat.api.limits import BodyLimitMiddleware
from gkchat.api.routes import (
    auth,
    diagnostics,
    friends,
    health,
    me,
    messages,
    notifications,
    sessions,
    users,
)
from gkchat.api.webclient import install_web_client
from gkchat.clock import Clock, SystemClock
from gkchat.collector import collect_on_a_timer, freeze_survivors, stop_freezing
from gkchat.config import Settings
from gkchat.db.migrate import upgrade
from gkchat.diagnostics import Diagnostics
from gkchat.services.container import Services
from gkchat.services.maintenance import run_maintenance

API_PREFIX = "/api/v1"
WS_PATH = f"{API_PREFIX}/ws"
log = logging.getLogger("gkchat")


class GKChatApp(FastAPI):
    """FastAPI, with the WebSocket endpoint served straight from the ASGI entry point.

    An open socket keeps its whole call chain alive for as long as it stays open. Through
    FastAPI's middleware and router that chain held 34 coroutines, 3 exit stacks and about 205
    objects that every full garbage collection walks; called from here, a socket holds about
    89 (``python -m bench.socket_cost``). No middleware applies to sockets: body limits and
    error pages are HTTP's.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and _route_path(scope) == WS_PATH:
            scope["app"] = self
            await ws.websocket_endpoint(WebSocket(scope, receive, send), self.state.services)
            return
        await super().__call__(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path below the root path a proxy mounts the app at (as Starlette routes it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, manage_gc: bool = False
) -> FastAPI:
    """The app and every service it needs. ``manage_gc`` (a server process of its own: not
    tests sharing one) applies the collector policy of gkchat/collector.py while it runs."""
    settings = settings or Settings()
    services = Services.build(settings, clock or SystemClock())
    monitor = (
        Diagnostics(lambda: len(services.gateway.registry.all())) if settings.diagnostics else None
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await upgrade(services.db)
        await services.start()
        maintenance = asyncio.create_task(run_maintenance(services), name="gkchat-maintenance")
        collector = None
        if manage_gc:
            freeze_survivors()
            collector = asyncio.create_task(collect_on_a_timer(), name="gkchat-collector")
        if monitor is not None:
            monitor.start()
        try:
            yield
        finally:
            if monitor is not None:
                await monitor.stop()
            for task in (maintenance, collector):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if manage_gc:
                stop_freezing()
            await services.close()

    app = GKChatApp(
        title="GK-Chat",
        version=__version__,
        summary="A self-hostable chat server. Contract: shared/API.md (v1).",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = services
    app.state.diagnostics = monitor
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)

    api = APIRouter(prefix=API_PREFIX)
    # Routes are matched in order, one regular expression after another: the busiest first.
    for module in (
        messages,
        notifications,
        friends,
        me,
        users,
        sessions,
        auth,
        health,
        diagnostics,
    ):
        api.include_router(module.router)
    app.include_router(api)
    install_web_client(app)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` and worker processes: settings from the environment,
    and the collector policy unless ``GKCHAT_GC_FREEZE=off``."""
    settings = Settings()
    return create_app(settings, manage_gc=settings.gc_freeze)
