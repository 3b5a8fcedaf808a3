"""The hub carries committed news to every process that holds a connection of the user.

A backend is chosen by URL scheme (``memory://`` for one process; ``redis://`` for several,
see the scale-out issue). The database stays the source of truth: a hub may drop a message,
and connections notice the gap in stream positions and read what they missed.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


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


class Hub(ABC):
    def __init__(self) -> None:
        self._listener: Listener | None = None

    def set_listener(self, listener: Listener) -> None:
        """The one local consumer of messages for subscribed users (the connection registry)."""
        self._listener = listener

    def deliver(self, message: HubMessage) -> None:
        if self._listener is not None:
            self._listener(message)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    @abstractmethod
    async def publish(self, messages: list[HubMessage]) -> None: ...

    async def subscribe(self, user_id: str) -> None:
        """This process now holds a connection of ``user_id``."""
        return

    async def unsubscribe(self, user_id: str) -> None:
        return None


class MemoryHub(Hub):
    """One process: publishing is delivering."""

    async def publish(self, messages: list[HubMessage]) -> None:
        for message in messages:
            self.deliver(message)


def create_hub(url: str) -> Hub:
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        return MemoryHub()
    raise ValueError(f"unsupported hub URL {url!r}: use memory://")
