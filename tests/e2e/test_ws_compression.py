"""WebSocket compression in ``gkchat serve``: off unless GKCHAT_WS_COMPRESSION=on."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.support.process import ServerProcess, clean_environment

Serve = Callable[..., ServerProcess]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Starts ``gkchat serve`` on SQLite with the given GKCHAT_* settings; stops it after."""
    started: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        environment = clean_environment(GKCHAT_DATA_DIR=str(tmp_path / "data"), **env)
        server = ServerProcess("sqlite", environment, tmp_path)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


async def negotiated_extensions(server: ServerProcess) -> str | None:
    url = server.base_url.replace("http", "ws", 1) + "/api/v1/ws"
    async with connect(url, compression="deflate") as ws:
        assert ws.response is not None
        return ws.response.headers.get("Sec-WebSocket-Extensions")


async def test_compression_is_not_negotiated_by_default(serve: Serve) -> None:
    """A client offering permessage-deflate gets plain frames from a default server."""
    server = serve()

    assert await negotiated_extensions(server) is None


async def test_compression_is_negotiated_when_turned_on(serve: Serve) -> None:
    """With GKCHAT_WS_COMPRESSION=on the server accepts permessage-deflate."""
    server = serve(GKCHAT_WS_COMPRESSION="on")

    extensions = await negotiated_extensions(server)
    assert extensions is not None
    assert extensions.startswith("permessage-deflate")
