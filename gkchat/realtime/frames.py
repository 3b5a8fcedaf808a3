"""WebSocket frames as JSON text."""

import functools
from typing import Any

import orjson

from gkchat.domain.models import StreamEvent


def event_frame(event: StreamEvent) -> str:
    """A stream event as pushed live: it carries the /sync cursor just after it.

    The same text as ``frame(event.type, event.data, cursor=...)``, around the event's data
    as already encoded for storage.
    """
    return f'{_event_head(event.type)}{event.data_json()},"cursor":"{event.seq}"}}'


@functools.cache
def _event_head(event_type: str) -> str:
    return '{"type":' + orjson.dumps(event_type).decode() + ',"data":'


def frame(frame_type: str, data: dict[str, Any] | None = None, *, cursor: str | None = None) -> str:
    body: dict[str, Any] = {"type": frame_type}
    if data is not None:
        body["data"] = data
    if cursor is not None:
        body["cursor"] = cursor
    return orjson.dumps(body).decode()


def error_frame(
    code: str,
    message: str,
    *,
    client_id: str | None = None,
    retry_after: float | None = None,
) -> str:
    data: dict[str, Any] = {"code": code, "message": message}
    if client_id is not None:
        data["client_id"] = client_id
    if retry_after is not None:
        data["retry_after"] = retry_after
    return frame("error", data)
