"""Sessions: creation at sign-in, authentication of tokens, listing and revocation."""

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.clock import Clock
from gkchat.db.engine import Database
from gkchat.db.repos import sessions as repo
from gkchat.domain.errors import NotAuthenticated, NotFound
from gkchat.domain.events import SessionsEnded
from gkchat.domain.ids import is_valid_id, new_id
from gkchat.domain.models import Session, User
from gkchat.security.tokens import hash_token, new_token
from gkchat.services.events import EventBus
from gkchat.services.grouped_updates import GroupedUpdates

# last_used_at is written at most this often per session, not on every request.
TOUCH_INTERVAL = timedelta(seconds=60)
# Session ids per query when checking which sessions of open sockets are still alive.
_LIVE_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Authenticated:
    user: User
    session: Session


@dataclass(frozen=True, slots=True)
class IssuedSession:
    session: Session
    token: str
    # Older sessions of the user that this one pushed over the cap (their sockets must close).
    evicted: tuple[str, ...] = ()


class SessionService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        bus: EventBus,
        *,
        ttl: timedelta,
        idle_timeout: timedelta,
        max_per_user: int,
    ) -> None:
        self._db = db
        self._clock = clock
        self._bus = bus
        self._ttl = ttl
        self._idle_timeout = idle_timeout
        self._max_per_user = max_per_user
        self._touches = GroupedUpdates(db, repo.touch)

    def expires_at(self, session: Session) -> datetime:
        """When the session dies if it is not used again: the hard limit or the idle limit."""
        return min(session.expires_at, session.last_used_at + self._idle_timeout)

    async def issue(
        self, conn: AsyncConnection, *, user_id: str, user_agent: str | None
    ) -> IssuedSession:
        """Create a session inside the caller's transaction, evicting the oldest beyond the cap."""
        now = self._clock.now()
        token = new_token()
        session = Session(
            id=new_id(),
            user_id=user_id,
            created_at=now,
            expires_at=now + self._ttl,
            last_used_at=now,
            user_agent=user_agent[:512] if user_agent else None,
        )
        await repo.insert_session(conn, session, token_hash=hash_token(token))
        evicted = await repo.delete_oldest_beyond(conn, user_id, keep=self._max_per_user)
        return IssuedSession(session=session, token=token, evicted=tuple(evicted))

    async def evicted(self, issued: IssuedSession) -> None:
        """After the sign-in committed: close the sockets of the sessions it evicted."""
        if issued.evicted:
            async with self._bus.transaction() as tx:
                await tx.emit(
                    SessionsEnded(user_id=issued.session.user_id, session_ids=issued.evicted)
                )

    async def authenticate(self, token: str) -> Authenticated:
        """Return the live session behind ``token`` or raise NotAuthenticated."""
        async with self._db.read() as conn:
            found = await repo.find_by_token_hash(conn, hash_token(token))
        if found is None:
            raise NotAuthenticated(
                "The session token is not valid; sign in again.", code="invalid_token"
            )
        session, user = found
        now = self._clock.now()
        if user.disabled:
            raise NotAuthenticated("This account has been disabled.", code="account_disabled")
        if now >= self.expires_at(session):
            raise NotAuthenticated(
                "The session has expired; sign in again.", code="session_expired"
            )
        if now - session.last_used_at >= TOUCH_INTERVAL:
            await self._touches.put(session.id, now)
            session = replace(session, last_used_at=now)
        return Authenticated(user=user, session=session)

    async def list_live(self, user_id: str) -> list[Session]:
        now = self._clock.now()
        async with self._db.read() as conn:
            sessions = await repo.list_for_user(conn, user_id)
        return [s for s in sessions if now < self.expires_at(s)]

    async def live_ids(self, session_ids: list[str]) -> set[str]:
        """Which of these sessions are still alive: not ended, not past their hard limit, and
        of an enabled account (open sockets are checked against this)."""
        now = self._clock.now()
        live: set[str] = set()
        for start in range(0, len(session_ids), _LIVE_CHUNK):
            if start:
                await asyncio.sleep(0)  # let sockets be served between chunks
            async with self._db.read() as conn:
                live |= await repo.live_ids(conn, session_ids[start : start + _LIVE_CHUNK], now=now)
        return live

    async def revoke(self, *, user_id: str, session_id: str) -> None:
        """End one of the user's sessions; someone else's or a missing one is NotFound."""
        if is_valid_id(session_id):
            async with self._bus.transaction() as tx:
                if await repo.delete_session(tx.conn, session_id=session_id, user_id=user_id):
                    await tx.emit(SessionsEnded(user_id=user_id, session_ids=(session_id,)))
                    return
        raise NotFound("No such session.", code="session_not_found")

    async def revoke_all(self, *, user_id: str, except_session_id: str | None = None) -> list[str]:
        """End the user's sessions (but one); their open sockets close."""
        async with self._bus.transaction() as tx:
            ended = await repo.delete_all_for_user(
                tx.conn, user_id, except_session_id=except_session_id
            )
            if ended:
                await tx.emit(SessionsEnded(user_id=user_id, session_ids=tuple(ended)))
        return ended

    async def delete_expired(self) -> int:
        now = self._clock.now()
        async with self._db.write() as conn:
            return await repo.delete_expired(conn, now=now, idle_before=now - self._idle_timeout)
