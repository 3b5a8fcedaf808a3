"""Who is online: a user is online while any of their sockets, in any process, is connected.

The gateway asks a :class:`Presence` and never knows the backend. ``LocalPresence`` (the
memory hub) knows this process's sockets only; a cluster-wide store (the Redis hub) also
tells, through ``on_change``, about users whose node stopped without saying goodbye.
"""

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

ChangeListener = Callable[[list[str], bool], Awaitable[None]]  # (user ids, online)


class LocalConnections(Protocol):
    """The connection registry, as far as presence needs it."""

    def is_connected(self, user_id: str) -> bool: ...

    def user_ids(self) -> list[str]: ...


class Presence(ABC):
    def __init__(self, local: LocalConnections) -> None:
        self._local = local
        self._on_change: ChangeListener | None = None

    def on_change(self, listener: ChangeListener) -> None:
        """Called with users whose presence changed other than through this process's own
        sockets (their node died, or this node came back after being taken for dead)."""
        self._on_change = listener

    async def _changed(self, user_ids: list[str], *, online: bool) -> None:
        if user_ids and self._on_change is not None:
            await self._on_change(user_ids, online)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def arrived(self, user_id: str) -> None:  # noqa: B027 (optional to override)
        """The user's first socket in this process has connected."""

    async def left(self, user_id: str) -> bool:
        """The user's last socket in this process has gone; True when none is left anywhere."""
        return True

    @abstractmethod
    async def online_among(self, user_ids: Iterable[str]) -> set[str]: ...


class LocalPresence(Presence):
    """One process: online means connected here."""

    async def online_among(self, user_ids: Iterable[str]) -> set[str]:
        return {user for user in user_ids if self._local.is_connected(user)}
