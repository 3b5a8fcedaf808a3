"""How uvicorn serves GK-Chat: one definition for ``gkchat serve`` and the benchmarks."""

from typing import Any

from gkchat.api.ws import MAX_FRAME_BYTES


def uvicorn_options() -> dict[str, Any]:
    """uvicorn's keyword arguments for the event loop, HTTP and WebSocket protocols."""
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
    }
