"""The JSON shapes of the GK-Chat API (contract v1) as typed dictionaries, plus small wrappers.

The dictionaries are exactly what the server sends: times are ISO 8601 strings in UTC and ids
are opaque strings. Fields a future server adds are kept in the dictionaries at run time even
though they are not declared here.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypedDict, TypeVar

T = TypeVar("T")


class PublicUser(TypedDict):
    """What anyone signed in may see of a user."""

    id: str
    username: str
    created_at: str


class OwnUser(PublicUser):
    """The signed-in user: the public profile plus the email address."""

    email: str


class AuthResult(TypedDict):
    """The answer to register and login: the user, the session token and when it expires."""

    user: OwnUser
    token: str
    expires_at: str


class Session(TypedDict):
    """One signed-in device of the user."""

    id: str
    created_at: str
    expires_at: str
    last_used_at: str
    user_agent: str | None
    current: bool


class FriendRequest(TypedDict):
    """A pending friend request."""

    id: str
    from_user: PublicUser
    to_user: PublicUser
    created_at: str


class Friendship(TypedDict):
    """A friendship as seen by one side: ``user`` is the other person."""

    user: PublicUser
    since: str


class Message(TypedDict):
    """A direct message. A deleted one is a tombstone: ``deleted_at`` set, ``content`` empty."""

    id: str
    sender_id: str
    recipient_id: str
    content: str
    created_at: str
    edited_at: str | None
    deleted_at: str | None
    client_id: str | None
    seq: int  # position in the conversation: later messages have larger ones


class Conversation(TypedDict):
    """A conversation with one peer: its latest message, how many of theirs are unread, and how
    far the peer has received and read (compare with ``Message['seq']``)."""

    peer: PublicUser
    last_message: Message | None
    unread_count: int
    muted: bool
    peer_delivered_seq: int
    peer_read_seq: int


class Health(TypedDict):
    """The answer of ``GET /health``."""

    status: str
    database: str


Direction = Literal["incoming", "outgoing"]


@dataclass(frozen=True, slots=True)
class Event:
    """Something the server told this user, live over the WebSocket or through ``/sync``.

    ``type`` is the frame type (``message.created``, ``receipt.read``, ``typing``, ...) and
    ``data`` its payload (``{}`` when the frame has none). ``cursor`` is the ``/sync`` cursor
    just after this event; ephemeral frames (``typing``, ``presence``, ``error``) have none.
    """

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list that is paginated newest first.

    Iterating a page iterates its items. Pass ``next_before`` as ``before`` to get the next,
    older page; it is None on the page that holds the oldest item.
    """

    items: list[T]
    next_before: str | None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class SyncResult:
    """One answer of ``GET /sync``: the events after the cursor asked for, in stream order.

    ``cursor`` is where the next call should start; call again at once while ``has_more``.
    """

    events: list[Event]
    cursor: str
    has_more: bool
