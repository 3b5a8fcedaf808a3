"""A real GK-Chat server on a loopback port, run inside the test's event loop.

Running in-process keeps start-up cheap and lets a test move the server's clock; the traffic
still goes through uvicorn and a real TCP socket.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from gkchat.app import create_app
from gkchat.config import Settings
from gkchat.transport import uvicorn_options
from tests.support.clock import FakeClock


@dataclass
class RunningServer:
    app: FastAPI
    settings: Settings
    clock: FakeClock
    base_url: str

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1"


@asynccontextmanager
async def running_server(settings: Settings, clock: FakeClock) -> AsyncIterator[RunningServer]:
    app = create_app(settings, clock=clock)
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that name their
    # protocol, and accepted sockets inherit it. Without it a keep-alive response written in two
    # segments waits for the client's delayed ACK: about 40 ms a request instead of 4.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # The protocols and limits ``gkchat serve`` runs with (the loop is the test's own).
    options = uvicorn_options(ws_compression=settings.ws_compression)
    options.pop("loop")
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.01)
        yield RunningServer(app, settings, clock, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await task
        sock.close()
