"""Keyset pagination, newest first, with opaque cursors.

A cursor names the last item of a page by ``(time, id)``; the next page holds the items
strictly older than it. Clients never parse cursors.
"""

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from gkchat.domain.errors import InvalidInput
from gkchat.domain.ids import is_valid_id

T = TypeVar("T")

LIMIT_DEFAULT = 50
LIMIT_MAX = 200


@dataclass(frozen=True, slots=True)
class Position:
    at: datetime
    id: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_before: str | None


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return LIMIT_DEFAULT
    if limit < 1:
        raise InvalidInput("limit must be at least 1.", code="invalid_limit")
    return min(limit, LIMIT_MAX)


def encode_cursor(position: Position) -> str:
    raw = f"{position.at.isoformat()}|{position.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Position | None:
    """Read a cursor from ``encode_cursor``; anything else is InvalidInput."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, item_id = raw.partition("|")
        parsed: datetime | None = datetime.fromisoformat(at)
        if parsed is not None and parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        parsed = None
    if parsed is None or parsed.tzinfo is None or not is_valid_id(item_id):
        raise InvalidInput("The 'before' cursor is not valid.", code="invalid_cursor")
    return Position(at=parsed, id=item_id)


def page_of(items: list[T], limit: int, position_of: Callable[[T], Position]) -> Page[T]:
    """Trim a query result of ``limit + 1`` rows into a page and its cursor."""
    if len(items) <= limit:
        return Page(items=items, next_before=None)
    items = items[:limit]
    return Page(items=items, next_before=encode_cursor(position_of(items[-1])))
