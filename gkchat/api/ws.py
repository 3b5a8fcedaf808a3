"""The WebSocket endpoint: authenticate, then pump frames both ways until either side goes."""

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from gkchat.api.cookies import SESSION_COOKIE
from gkchat.domain.errors import DomainError, NotAuthenticated, Unavailable
from gkchat.realtime.connection import Connection
from gkchat.realtime.frames import error_frame, frame
from gkchat.services.container import Services
from gkchat.services.message_writer import Sent
from gkchat.services.sessions import Authenticated
from gkchat.services.views import message as message_view

log = logging.getLogger("gkchat.ws")

MAX_FRAME_BYTES = 64 * 1024
CLOSE_BAD_TOKEN = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_TOO_MANY_CONNECTIONS = 4429


async def websocket_endpoint(websocket: WebSocket, services: Services) -> None:
    """Serve one socket: check its origin and credentials, then pump frames both ways."""
    token, via_cookie = _credentials(websocket)
    if via_cookie and not _origin_allowed(websocket, services.settings.allowed_origins):
        await websocket.close(CLOSE_FORBIDDEN_ORIGIN, "origin not allowed")
        return
    await websocket.accept()
    try:
        await _serve(websocket, services, token)
    except Unavailable as exc:
        # The database cannot answer right now (a busy SQLite lock, a cut PostgreSQL
        # connection): "try again later", so that the client reconnects shortly.
        log.warning("closing a socket, the database is unavailable: %s", exc.__cause__ or exc)
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_TRY_AGAIN_LATER, exc.code)


async def _serve(websocket: WebSocket, services: Services, token: str | None) -> None:
    auth = await _authenticate(websocket, services, token)
    if auth is None:
        return
    connection = Connection(
        websocket,
        user_id=auth.user.id,
        session_id=auth.session.id,
        catch_up=services.stream.between,
        queue_size=services.settings.ws_queue_size,
        queue_bytes=services.settings.ws_queue_bytes,
    )
    _make_room(services, auth.user.id)
    # Register first, then read the stream head: whatever commits in between arrives live
    # and anything at or before the head is skipped by the writer. A client that names the
    # cursor it has seen gets everything after it, stored or live, on this socket alone.
    since = _resume_cursor(websocket)
    first = await services.gateway.register(connection)
    try:
        head = await services.stream.head(auth.user.id)
        start = head if since is None else min(since, head)
        connection.push_frame(
            frame(
                "ready",
                {"cursor": str(start), "user_id": auth.user.id, "session_id": auth.session.id},
            )
        )
        connection.start(start, catch_up_to=head)
        await services.gateway.announce(connection, first=first)
        await _receive_loop(connection, services, auth)
    finally:
        await connection.stop()
        await services.gateway.disconnected(connection)


def _make_room(services: Services, user_id: str) -> None:
    """Over the per-user cap, the user's oldest sockets in this process give way (4429)."""
    cap = services.settings.ws_max_connections_per_user
    open_ = [c for c in services.gateway.registry.connections_of(user_id) if not c.closed]
    if len(open_) < cap:
        return
    open_.sort(key=lambda c: c.opened)
    for oldest in open_[: len(open_) - cap + 1]:
        log.info("closing the oldest connection of user %s (over the cap of %d)", user_id, cap)
        oldest.close(CLOSE_TOO_MANY_CONNECTIONS, "too many connections")


def _resume_cursor(websocket: WebSocket) -> int | None:
    """``?since=<cursor>`` on the URL: resume after that cursor (junk is ignored)."""
    since = websocket.query_params.get("since")
    return int(since) if since is not None and since.isdigit() and len(since) <= 18 else None


def _credentials(websocket: WebSocket) -> tuple[str | None, bool]:
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), False
    cookie = websocket.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def _origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """Cookie-authenticated sockets must come from this site or a configured origin."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: cookies are not ambient there
    if origin.rstrip("/") in allowed:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host")


async def _authenticate(
    websocket: WebSocket, services: Services, token: str | None
) -> Authenticated | None:
    if token is None:
        token = await _first_frame_token(websocket, services)
    if token is not None:
        try:
            return await services.sessions.authenticate(token)
        except NotAuthenticated as exc:
            await _close_unauthenticated(websocket, exc.code)
            return None
    await _close_unauthenticated(websocket, "authentication required")
    return None


async def _close_unauthenticated(websocket: WebSocket, reason: str) -> None:
    """Close with 4401, unless the client has gone already (it hung up, or broke the protocol
    and uvicorn closed the socket): closing a gone socket raises, a server error in the log."""
    if websocket.client_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(WebSocketDisconnect):
        await websocket.close(CLOSE_BAD_TOKEN, reason)


async def _first_frame_token(websocket: WebSocket, services: Services) -> str | None:
    timeout = services.settings.ws_auth_timeout.total_seconds()
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout=timeout)
    except TimeoutError:
        return None
    text = message.get("text")
    if not isinstance(text, str) or len(text) > MAX_FRAME_BYTES:
        return None
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if isinstance(body, dict) and body.get("type") == "auth":
        data = body.get("data")
        token = body.get("token", data.get("token") if isinstance(data, dict) else None)
        return token if isinstance(token, str) and token else None
    return None


async def _receive_loop(connection: Connection, services: Services, auth: Authenticated) -> None:
    """Handle the client's frames in order until it hangs up or the socket is closed.

    This is the socket's only task while it is idle. A close from elsewhere (revocation, the
    connection cap, a slow reader, the idle timer) ends it: ``Connection.receive`` then
    returns a disconnect.
    """
    connection.watch_idle(services.settings.ws_idle_timeout.total_seconds())
    while True:
        message = await connection.receive()
        if message["type"] == "websocket.disconnect" or connection.closed:
            return
        connection.heard()
        wait = services.send_limiter.take(auth.user.id)
        if wait is not None:
            _refuse(message, connection, wait)
            continue
        await _handle(message, connection, services, auth)


def _refuse(message: Mapping[str, Any], connection: Connection, wait: float) -> None:
    """A frame over the user's rate: not processed; an ``error`` frame says when to retry."""
    text, raw = message.get("text"), message.get("bytes")
    if (isinstance(text, str) and len(text) > MAX_FRAME_BYTES) or (
        raw is not None and len(raw) > MAX_FRAME_BYTES
    ):
        connection.close(CLOSE_TOO_BIG, "frame too large")
        return
    client_id = None
    if isinstance(text, str) and '"message.send"' in text:
        with contextlib.suppress(orjson.JSONDecodeError):
            body = orjson.loads(text)
            data = body.get("data") if isinstance(body, dict) else None
            found = data.get("client_id") if isinstance(data, dict) else None
            client_id = found if isinstance(found, str) else None
    connection.push_frame(
        error_frame(
            "rate_limited",
            "Too many frames; this one was not processed. Slow down and retry.",
            client_id=client_id,
            retry_after=round(max(wait, 0.001), 3),
        )
    )


async def _handle(
    message: Mapping[str, Any], connection: Connection, services: Services, auth: Authenticated
) -> None:
    text = message.get("text")
    if text is None:
        if message.get("bytes") is not None:
            if len(message["bytes"]) > MAX_FRAME_BYTES:
                connection.close(CLOSE_TOO_BIG, "frame too large")
                return
            connection.push_frame(error_frame("binary_not_supported", "Send JSON text frames."))
        return
    if len(text) * 4 > MAX_FRAME_BYTES and len(text.encode()) > MAX_FRAME_BYTES:
        connection.close(CLOSE_TOO_BIG, "frame too large")
        return
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        connection.push_frame(error_frame("invalid_json", "The frame is not valid JSON."))
        return
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        connection.push_frame(
            error_frame("invalid_frame", 'A frame is an object with a string "type".')
        )
        return
    data = body.get("data")
    data = data if isinstance(data, dict) else {}
    frame_type = body["type"]
    if frame_type == "message.send":
        _send(data, connection, services, auth)
    elif frame_type == "typing":
        try:
            await services.gateway.typing(
                sender_id=auth.user.id,
                recipient_id=data.get("recipient_id"),  # type: ignore[arg-type]
            )
        except DomainError as exc:
            connection.push_frame(error_frame(exc.code, exc.message))
    elif frame_type == "ping":
        connection.push_frame(frame("pong"))
    elif frame_type == "auth":
        connection.push_frame(error_frame("already_authenticated", "This socket is signed in."))
    else:
        connection.push_frame(
            error_frame("unknown_type", f"Unknown frame type {frame_type[:64]!r}.")
        )


def _send(
    data: dict[str, Any], connection: Connection, services: Services, auth: Authenticated
) -> None:
    """Queue a send now (keeping frame order) and ack once it has committed."""
    client_id = data.get("client_id")
    echo_id = client_id if isinstance(client_id, str) else None
    recipient_id, content = data.get("recipient_id"), data.get("content")
    if (
        not isinstance(content, str)
        or not isinstance(recipient_id, str)
        or (client_id is not None and not isinstance(client_id, str))
    ):
        connection.push_frame(
            error_frame(
                "invalid_request",
                "message.send needs string recipient_id and content (and client_id).",
                client_id=echo_id,
            )
        )
        return
    try:
        future = services.messages.submit(
            sender=auth.user, recipient_id=recipient_id, content=content, client_id=echo_id
        )
    except DomainError as exc:
        connection.push_frame(error_frame(exc.code, exc.message, client_id=echo_id))
        return

    def acknowledge(done: "asyncio.Future[Sent]") -> None:
        if done.cancelled():
            return
        failure = done.exception()
        if failure is None:
            sent = done.result()
            connection.push_frame(
                frame("message.ack", {"client_id": echo_id, "message": message_view(sent.message)})
            )
        elif isinstance(failure, DomainError):
            connection.push_frame(error_frame(failure.code, failure.message, client_id=echo_id))
        else:
            connection.push_frame(
                error_frame("internal_error", "The message was not stored.", client_id=echo_id)
            )

    future.add_done_callback(acknowledge)
