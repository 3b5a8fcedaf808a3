"""The services an app is built from, composed once by ``gkchat.app.create_app``."""

from dataclasses import dataclass

from gkchat.clock import Clock
from gkchat.config import Settings
from gkchat.db.engine import Database
from gkchat.security.passwords import PasswordHasher
from gkchat.services.accounts import AccountService
from gkchat.services.events import EventBus
from gkchat.services.friends import FriendService
from gkchat.services.sessions import SessionService
from gkchat.services.throttle import LoginThrottle


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    clock: Clock
    db: Database
    hasher: PasswordHasher
    sessions: SessionService
    throttle: LoginThrottle
    accounts: AccountService
    events: EventBus
    friends: FriendService

    @classmethod
    def build(cls, settings: Settings, clock: Clock) -> "Services":
        db = Database(settings.resolved_database_url)
        hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        sessions = SessionService(
            db,
            clock,
            ttl=settings.session_ttl,
            idle_timeout=settings.session_idle_timeout,
            max_per_user=settings.max_sessions_per_user,
        )
        throttle = LoginThrottle(
            db,
            clock,
            enabled=settings.rate_limits,
            window=settings.login_window,
            max_per_account=settings.login_max_failures_per_account,
            max_per_address=settings.login_max_failures_per_address,
        )
        accounts = AccountService(
            db,
            clock,
            hasher=hasher,
            sessions=sessions,
            throttle=throttle,
            password_max_length=settings.password_max_length,
        )
        events = EventBus(db)
        friends = FriendService(db, clock, events)
        return cls(settings, clock, db, hasher, sessions, throttle, accounts, events, friends)

    async def close(self) -> None:
        self.hasher.close()
        await self.db.dispose()
