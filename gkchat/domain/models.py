"""Entities as plain frozen dataclasses."""

from dataclasses import dataclass, field
from datetime import datetime

import orjson


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    email: str
    created_at: datetime
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Session:
    """A login on one device. ``expires_at`` is the hard limit; idleness can end it sooner."""

    id: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user row with its password hash, only ever seen by the accounts service."""

    user: User
    password_hash: str


@dataclass(frozen=True, slots=True)
class FriendRequest:
    id: str
    from_user: User
    to_user: User
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Friendship:
    """One side's view of a friendship: ``user`` is the other person."""

    user: User
    since: datetime


@dataclass(frozen=True, slots=True)
class Message:
    """A direct message; ``seq`` is its position in the conversation (later is larger)."""

    id: str
    sender_id: str
    recipient_id: str
    content: str
    client_id: str | None
    created_at: datetime
    seq: int
    edited_at: datetime | None = None
    deleted_at: datetime | None = None

    def peer_of(self, user_id: str) -> str:
        return self.recipient_id if user_id == self.sender_id else self.sender_id


@dataclass(frozen=True, slots=True)
class Conversation:
    """One side's view of a conversation; the peer's positions say how far they have
    received and read (compare with ``Message.seq``)."""

    peer: User
    last_message: Message | None
    unread_count: int
    last_activity_at: datetime
    peer_delivered_seq: int
    peer_read_seq: int


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """An event in a user's stream, as stored and as delivered: ``seq`` is its position."""

    user_id: str
    seq: int
    type: str
    data: dict[str, object]
    # ``data`` as JSON text when it was encoded already: recording encodes each event's data
    # once for its whole audience, and the stored row and the live frames reuse that text.
    encoded: str | None = field(default=None, compare=False, repr=False)

    def data_json(self) -> str:
        return self.encoded if self.encoded is not None else orjson.dumps(self.data).decode()


@dataclass(frozen=True, slots=True)
class Notification:
    """``count`` > 1 when a burst of messages from one ``actor_id`` was collapsed into it."""

    id: str
    user_id: str
    type: str
    reference_id: str | None
    content: str
    created_at: datetime
    read_at: datetime | None
    actor_id: str | None
    count: int = 1
