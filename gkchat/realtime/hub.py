"""The hub carries committed news to every process that holds a connection of the user.

A backend is chosen by URL scheme: ``memory://`` for one process, ``redis://`` (or
``rediss://``) for several processes or nodes. The database stays the source of truth: a hub
may drop a message, and connections notice the gap in stream positions and read what they
missed. A hub that lost its connection and got it back asks for a resync (see ``on_resync``),
because a lost hint for a user's last event leaves no later position to reveal it.
"""

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from gkchat.realtime.presence import LocalConnections, LocalPresence, Presence

MEMORY_SCHEMES = frozenset({"memory"})
REDIS_SCHEMES = frozenset({"redis", "rediss"})


class Kind(StrEnum):
    EVENTS = "events"  # stream events, with their positions
    EPHEMERAL = "ephemeral"  # typing, presence: no position, not stored
    CLOSE_SESSIONS = "close_sessions"  # revoked sessions: close their sockets


@dataclass(frozen=True, slots=True)
class HubMessage:
    user_id: str
    kind: Kind
    frames: tuple[tuple[int, str], ...] = ()  # (position, frame text); position 0 if ephemeral
    session_ids: tuple[str, ...] = ()  # for CLOSE_SESSIONS; empty means every session


Listener = Callable[[HubMessage], None]
ResyncListener = Callable[[], Awaitable[None]]


class Hub(ABC):
    def __init__(self) -> None:
        self._listener: Listener | None = None
        self._resync: ResyncListener | None = None

    def set_listener(self, listener: Listener) -> None:
        """The one local consumer of messages for subscribed users (the connection registry)."""
        self._listener = listener

    def on_resync(self, listener: ResyncListener) -> None:
        """Called after the hub got its connection back: messages may have been lost."""
        self._resync = listener

    def deliver(self, message: HubMessage) -> None:
        if self._listener is not None:
            self._listener(message)

    async def resync(self) -> None:
        if self._resync is not None:
            await self._resync()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    @abstractmethod
    async def publish(self, messages: list[HubMessage]) -> None:
        """Send ``messages`` to every process; never raises for a backend that is down."""

    async def subscribe(self, user_id: str) -> None:
        """This process now holds a connection of ``user_id``."""
        return

    async def unsubscribe(self, user_id: str) -> None:
        return None

    def presence(self, local: LocalConnections, *, timeout: timedelta) -> Presence:
        """Who is online: this process's connections, unless the backend spans processes."""
        return LocalPresence(local)


class MemoryHub(Hub):
    """One process: publishing is delivering."""

    async def publish(self, messages: list[HubMessage]) -> None:
        for message in messages:
            self.deliver(message)


def hub_scheme(url: str) -> str:
    """The backend a hub URL names; ValueError for one GK-Chat does not know."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in MEMORY_SCHEMES | REDIS_SCHEMES:
        raise ValueError(f"unsupported hub URL {url!r}: use memory:// or redis://host:port/db")
    return scheme


def check_hub_url(url: str) -> None:
    """ValueError unless ``url`` names a hub GK-Chat can use."""
    if hub_scheme(url) in REDIS_SCHEMES:
        from gkchat.realtime.redis_names import split_hub_url

        split_hub_url(url)


def is_shared(url: str) -> bool:
    """True when the hub at ``url`` carries news between processes."""
    return hub_scheme(url) in REDIS_SCHEMES


def create_hub(url: str) -> Hub:
    if hub_scheme(url) in REDIS_SCHEMES:
        from gkchat.realtime.redis_hub import RedisHub  # redis is only imported when used

        return RedisHub(url)
    return MemoryHub()
