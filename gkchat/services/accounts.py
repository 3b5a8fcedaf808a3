"""Accounts: registration, sign-in, lookups and administration."""

from dataclasses import dataclass

from gkchat.clock import Clock
from gkchat.db.engine import Database
from gkchat.db.repos import users as repo
from gkchat.domain.errors import Forbidden, NotAuthenticated, NotFound
from gkchat.domain.ids import is_valid_id, new_id
from gkchat.domain.models import User
from gkchat.security.passwords import PasswordHasher, check_new_password
from gkchat.services.sessions import IssuedSession, SessionService
from gkchat.services.throttle import LoginThrottle
from gkchat.services.validation import check_username, normalise_email

SEARCH_LIMIT_DEFAULT = 20
SEARCH_LIMIT_MAX = 50


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    issued: IssuedSession


class AccountService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        hasher: PasswordHasher,
        sessions: SessionService,
        throttle: LoginThrottle,
        password_max_length: int,
    ) -> None:
        self._db = db
        self._clock = clock
        self._hasher = hasher
        self._sessions = sessions
        self._throttle = throttle
        self._password_max_length = password_max_length

    async def create_user(self, *, username: str, email: str, password: str) -> User:
        """Validate and store a new account (no session): used by sign-up and the CLI."""
        check_username(username)
        email = normalise_email(email)
        check_new_password(
            password, max_length=self._password_max_length, username=username, email=email
        )
        async with self._db.read() as conn:
            await repo.username_or_email_taken(conn, username=username, email=email)
        password_hash = await self._hasher.hash(password)
        async with self._db.write() as conn:
            return await repo.insert_user(
                conn,
                user_id=new_id(),
                username=username,
                email=email,
                password_hash=password_hash,
                created_at=self._clock.now(),
            )

    async def register(
        self, *, username: str, email: str, password: str, user_agent: str | None
    ) -> SignedIn:
        user = await self.create_user(username=username, email=email, password=password)
        async with self._db.write() as conn:
            issued = await self._sessions.issue(conn, user_id=user.id, user_agent=user_agent)
        await self._sessions.evicted(issued)
        return SignedIn(user=user, issued=issued)

    async def login(
        self, *, login: str, password: str, address: str | None, user_agent: str | None
    ) -> SignedIn:
        """Sign in by username or email; a wrong password and an unknown login look the same."""
        if len(password) > self._password_max_length:
            password = ""  # cannot match; still costs one verification
        async with self._db.read() as conn:
            credentials = await repo.get_credentials(conn, login) if len(login) <= 254 else None
        account = credentials.user.id if credentials else login.lower()[:254]
        keys = self._throttle.keys(account=account, address=address)
        await self._throttle.check(keys)
        password_hash = credentials.password_hash if credentials else None
        if not await self._hasher.verify(password_hash, password) or credentials is None:
            await self._throttle.record_failure(keys)
            raise NotAuthenticated("Wrong username, email or password.", code="invalid_credentials")
        user = credentials.user
        if user.disabled:
            raise Forbidden("This account has been disabled.", code="account_disabled")
        await self._throttle.forget(keys["account"])
        new_hash = (
            await self._hasher.hash(password)
            if self._hasher.needs_rehash(password_hash or "")
            else None
        )
        async with self._db.write() as conn:
            if new_hash:
                await repo.set_password_hash(conn, user.id, new_hash)
            issued = await self._sessions.issue(conn, user_id=user.id, user_agent=user_agent)
        await self._sessions.evicted(issued)
        return SignedIn(user=user, issued=issued)

    async def get_user(self, user_id: str) -> User:
        """A user by id; a malformed or unknown id is NotFound."""
        if is_valid_id(user_id):
            async with self._db.read() as conn:
                user = await repo.get_user(conn, user_id)
            if user is not None:
                return user
        raise NotFound("No such user.", code="user_not_found")

    async def search(self, prefix: str, *, limit: int = SEARCH_LIMIT_DEFAULT) -> list[User]:
        """Users whose username starts with ``prefix``; a prefix no username can have finds none."""
        prefix = prefix.strip()
        if (
            not prefix
            or len(prefix) > 32
            or not all(c.isascii() and (c.isalnum() or c in "_.") for c in prefix)
        ):
            return []
        async with self._db.read() as conn:
            return await repo.search_by_prefix(
                conn, prefix, limit=min(max(limit, 1), SEARCH_LIMIT_MAX)
            )

    async def list_users(self, *, limit: int, offset: int = 0) -> list[User]:
        async with self._db.read() as conn:
            return list(await repo.list_users(conn, limit=limit, offset=offset))

    async def set_disabled(self, username: str, *, disabled: bool) -> User:
        """Disable (or re-enable) an account; disabling also ends all its sessions."""
        async with self._db.read() as conn:
            user = await repo.get_user_by_username(conn, username)
        if user is None:
            raise NotFound(f"No user named {username!r}.", code="user_not_found")
        async with self._db.write() as conn:
            await repo.set_disabled(conn, user.id, disabled=disabled)
        if disabled:
            await self._sessions.revoke_all(user_id=user.id)
        return user
