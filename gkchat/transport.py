"""How uvicorn serves GK-Chat: one definition for ``gkchat serve`` and the benchmarks."""

from typing import Any

from gkchat.api.ws import MAX_FRAME_BYTES


def uvicorn_options(*, ws_compression: bool = False) -> dict[str, Any]:
    """uvicorn's keyword arguments for the event loop, HTTP and WebSocket protocols.

    ``ws_compression`` offers permessage-deflate to clients that ask (every browser does).
    It is off by default: each compressed socket keeps zlib state (an idle socket measured
    54 KiB instead of 17 in ``bench.socket_cost``) and compressing every frame cost 16 % more
    server CPU per message in ``bench ws-messages``, while chat frames are a few hundred bytes.
    """
    return {
        "loop": "uvloop",
        "http": "httptools",
        "ws": "websockets-sansio",
        # Client addresses come from X-Forwarded-For only via GKCHAT_TRUSTED_PROXIES.
        "proxy_headers": False,
        "server_header": False,
        # Frames over 64 KiB close the socket with 1009; dead peers are found by pings.
        "ws_max_size": MAX_FRAME_BYTES,
        "ws_ping_interval": 20,
        "ws_ping_timeout": 20,
        "ws_per_message_deflate": ws_compression,
    }
