"""Friendships: requests, accept, decline, cancel, unfriend, block and unblock.

Every change between two users runs in one transaction that first locks the pair, so that
concurrent actions (both pressing "add" at once, a block racing an accept) apply one after the
other. Each change emits a domain event through the bus.
"""

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.clock import Clock
from gkchat.db.engine import Database
from gkchat.db.repos import friends as repo
from gkchat.db.repos import users as users_repo
from gkchat.domain import events
from gkchat.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from gkchat.domain.ids import is_valid_id, new_id
from gkchat.domain.models import FriendRequest, Friendship, User
from gkchat.domain.pagination import Page, Position, clamp_limit, decode_cursor, page_of
from gkchat.services.events import EventBus

# A unique-constraint race can only happen before the pair lock existed; one retry suffices.
_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class RequestSent:
    """The result of asking someone: a new request, or a friendship when they had asked you."""

    request: FriendRequest | None = None
    friendship: Friendship | None = None


class FriendService:
    def __init__(self, db: Database, clock: Clock, bus: EventBus) -> None:
        self._db = db
        self._clock = clock
        self._bus = bus

    async def send_request(self, *, me: User, user_id: str) -> RequestSent:
        if user_id == me.id:
            raise InvalidInput("You cannot befriend yourself.", code="cannot_befriend_self")
        target = await self._existing_user(user_id)
        for attempt in range(_ATTEMPTS):
            try:
                return await self._send_request(me, target)
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _send_request(self, me: User, target: User) -> RequestSent:
        async with self._bus.transaction() as tx:
            conn = tx.conn
            await repo.lock_pair(conn, me.id, target.id)
            await self._refuse_if_blocked(conn, me.id, target.id)
            if await repo.are_friends(conn, me.id, target.id):
                raise Conflict("You are already friends.", code="already_friends")
            pending = await repo.request_between(conn, me.id, target.id)
            if pending is not None and pending.from_user.id == me.id:
                raise Conflict("You have already asked this user.", code="request_exists")
            if pending is not None:
                friendship = await self._accept(tx.conn, pending)
                await tx.emit(events.FriendRequestAccepted(request=pending, since=friendship.since))
                return RequestSent(friendship=friendship)
            request = await repo.insert_request(
                conn,
                request_id=new_id(),
                from_user=me,
                to_user=target,
                created_at=self._clock.now(),
            )
            await tx.emit(events.FriendRequestCreated(request=request))
            return RequestSent(request=request)

    async def accept(self, *, me: User, request_id: str) -> Friendship:
        """Accept a request addressed to ``me``; anyone else's is NotFound."""
        async with self._bus.transaction() as tx:
            request = await self._request_to_handle(tx.conn, request_id, recipient=me)
            friendship = await self._accept(tx.conn, request)
            await tx.emit(events.FriendRequestAccepted(request=request, since=friendship.since))
        return friendship

    async def decline(self, *, me: User, request_id: str) -> None:
        async with self._bus.transaction() as tx:
            request = await self._request_to_handle(tx.conn, request_id, recipient=me)
            await repo.delete_request(tx.conn, request.id)
            await tx.emit(events.FriendRequestDeclined(request=request))

    async def cancel(self, *, me: User, request_id: str) -> None:
        """Withdraw a request ``me`` sent; anyone else's is NotFound."""
        async with self._bus.transaction() as tx:
            request = await self._find_request(tx.conn, request_id)
            if request is None or request.from_user.id != me.id:
                raise NotFound("No such friend request.", code="request_not_found")
            await repo.lock_pair(tx.conn, request.from_user.id, request.to_user.id)
            if not await repo.delete_request(tx.conn, request.id):
                raise NotFound("No such friend request.", code="request_not_found")
            await tx.emit(events.FriendRequestCancelled(request=request))

    async def list_requests(
        self, *, me: User, incoming: bool, before: str | None, limit: int | None
    ) -> Page[FriendRequest]:
        position, size = decode_cursor(before), clamp_limit(limit)
        async with self._db.read() as conn:
            rows = await repo.list_requests(
                conn, me.id, incoming=incoming, before=position, limit=size + 1
            )
        return page_of(rows, size, lambda r: Position(r.created_at, r.id))

    async def list_friends(
        self, *, me: User, before: str | None, limit: int | None
    ) -> Page[Friendship]:
        position, size = decode_cursor(before), clamp_limit(limit)
        async with self._db.read() as conn:
            rows = await repo.list_friends(conn, me.id, before=position, limit=size + 1)
        return page_of(rows, size, lambda f: Position(f.since, f.user.id))

    async def unfriend(self, *, me: User, user_id: str) -> None:
        async with self._bus.transaction() as tx:
            if is_valid_id(user_id) and user_id != me.id:
                await repo.lock_pair(tx.conn, me.id, user_id)
                if await repo.delete_friendship(tx.conn, me.id, user_id):
                    await tx.emit(events.FriendRemoved(user_id=me.id, friend_id=user_id))
                    return
        raise NotFound("You are not friends with this user.", code="not_friends")

    async def block(self, *, me: User, user_id: str) -> None:
        """Block a user: ends any friendship and pending requests between the two."""
        if user_id == me.id:
            raise InvalidInput("You cannot block yourself.", code="cannot_block_self")
        target = await self._existing_user(user_id, allow_disabled=True)
        async with self._bus.transaction() as tx:
            await repo.lock_pair(tx.conn, me.id, target.id)
            created = await repo.insert_block(
                self._db, tx.conn, blocker_id=me.id, blocked_id=target.id, at=self._clock.now()
            )
            ended = await repo.delete_friendship(tx.conn, me.id, target.id)
            await repo.delete_requests_between(tx.conn, me.id, target.id)
            if created:
                await tx.emit(
                    events.UserBlocked(
                        blocker_id=me.id, blocked_id=target.id, ended_friendship=ended
                    )
                )

    async def unblock(self, *, me: User, user_id: str) -> None:
        """Lift a block; the friendship it ended is not restored."""
        async with self._bus.transaction() as tx:
            if is_valid_id(user_id) and await repo.delete_block(
                tx.conn, blocker_id=me.id, blocked_id=user_id
            ):
                await tx.emit(events.UserUnblocked(blocker_id=me.id, blocked_id=user_id))
                return
        raise NotFound("You have not blocked this user.", code="not_blocked")

    async def list_blocked(self, *, me: User, before: str | None, limit: int | None) -> Page[User]:
        position, size = decode_cursor(before), clamp_limit(limit)
        async with self._db.read() as conn:
            rows = await repo.list_blocked(conn, me.id, before=position, limit=size + 1)
        page = page_of(rows, size, lambda row: Position(row[1], row[0].id))
        return Page(items=[user for user, _ in page.items], next_before=page.next_before)

    async def can_message(
        self, conn: AsyncConnection, *, sender_id: str, recipient_id: str
    ) -> bool:
        """Friends may message each other; a block in either direction ends a friendship."""
        return await repo.are_friends(conn, sender_id, recipient_id)

    async def _accept(self, conn: AsyncConnection, request: FriendRequest) -> Friendship:
        since = self._clock.now()
        await repo.delete_request(conn, request.id)
        await repo.insert_friendship(conn, request.from_user.id, request.to_user.id, since=since)
        return Friendship(user=request.from_user, since=since)

    async def _request_to_handle(
        self, conn: AsyncConnection, request_id: str, *, recipient: User
    ) -> FriendRequest:
        """Lock and re-read a request that ``recipient`` may accept or decline."""
        request = await self._find_request(conn, request_id)
        if request is None or request.to_user.id != recipient.id:
            raise NotFound("No such friend request.", code="request_not_found")
        await repo.lock_pair(conn, request.from_user.id, request.to_user.id)
        # Re-read under the lock: a concurrent cancel or block may have removed it.
        request = await repo.get_request(conn, request.id)
        if request is None:
            raise NotFound("No such friend request.", code="request_not_found")
        return request

    async def _find_request(self, conn: AsyncConnection, request_id: str) -> FriendRequest | None:
        return await repo.get_request(conn, request_id) if is_valid_id(request_id) else None

    async def _refuse_if_blocked(self, conn: AsyncConnection, me: str, other: str) -> None:
        if await repo.is_blocked(conn, blocker_id=me, blocked_id=other):
            raise Forbidden("You have blocked this user; unblock them first.", code="user_blocked")
        if await repo.is_blocked(conn, blocker_id=other, blocked_id=me):
            raise Forbidden("You cannot send a friend request to this user.", code="not_allowed")

    async def _existing_user(self, user_id: str, *, allow_disabled: bool = False) -> User:
        if is_valid_id(user_id):
            async with self._db.read() as conn:
                user = await users_repo.get_user(conn, user_id)
            if user is not None and (allow_disabled or not user.disabled):
                return user
        raise NotFound("No such user.", code="user_not_found")
