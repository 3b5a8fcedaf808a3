"""The services an app is built from, composed once by ``gkchat.app.create_app``."""

from dataclasses import dataclass

from gkchat.clock import Clock
from gkchat.config import Settings
from gkchat.db.engine import Database
from gkchat.realtime.gateway import Gateway
from gkchat.realtime.hub import create_hub
from gkchat.realtime.session_watch import SessionWatch
from gkchat.security.passwords import PasswordHasher
from gkchat.services.accounts import AccountService
from gkchat.services.events import EventBus
from gkchat.services.friends import FriendService
from gkchat.services.message_writer import MessageWriter
from gkchat.services.messages import MessageService
from gkchat.services.notifications import NotificationService
from gkchat.services.rate import SendLimiter
from gkchat.services.sessions import SessionService
from gkchat.services.stream import StreamService
from gkchat.services.throttle import LoginThrottle, RegistrationThrottle


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    settings: Settings
    clock: Clock
    db: Database
    hasher: PasswordHasher
    stream: StreamService
    events: EventBus
    sessions: SessionService
    throttle: LoginThrottle
    registration_throttle: RegistrationThrottle
    send_limiter: SendLimiter
    session_watch: SessionWatch
    accounts: AccountService
    friends: FriendService
    writer: MessageWriter
    messages: MessageService
    notifications: NotificationService
    gateway: Gateway

    @classmethod
    def build(cls, settings: Settings, clock: Clock) -> "Services":
        db = Database(
            settings.resolved_database_url,
            busy_timeout=settings.sqlite_busy_timeout.total_seconds(),
            pool_size=settings.postgres_pool_size,
        )
        hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        stream = StreamService(db, clock)
        events = EventBus(db, stream)
        sessions = SessionService(
            db,
            clock,
            events,
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
        writer = MessageWriter(db, clock, events)
        gateway = Gateway(
            db,
            clock,
            create_hub(settings.hub_url),
            typing_interval=settings.typing_interval,
            presence_timeout=settings.presence_timeout,
        )
        notifications = NotificationService(db, clock, events)
        session_watch = SessionWatch(
            gateway.registry, sessions.live_ids, interval=settings.ws_session_check_interval
        )
        events.derive_with(notifications.derive)
        events.on_publish(gateway.publish_stream)
        events.on_commit(gateway.on_domain_event)
        return cls(
            settings=settings,
            clock=clock,
            db=db,
            hasher=hasher,
            stream=stream,
            events=events,
            sessions=sessions,
            throttle=throttle,
            registration_throttle=RegistrationThrottle(
                db,
                clock,
                enabled=settings.rate_limits,
                window=settings.register_window,
                max_per_address=settings.register_max_per_address,
            ),
            send_limiter=SendLimiter(
                enabled=settings.rate_limits, rate=settings.send_rate, burst=settings.send_burst
            ),
            session_watch=session_watch,
            accounts=accounts,
            friends=FriendService(db, clock, events),
            writer=writer,
            messages=MessageService(db, clock, events, writer),
            notifications=notifications,
            gateway=gateway,
        )

    async def start(self) -> None:
        await self.gateway.start()
        self.writer.start()
        self.session_watch.start()

    async def close(self) -> None:
        """Finish queued sends, then release the hub, hashing threads and the database."""
        await self.session_watch.stop()
        await self.writer.stop()
        await self.gateway.stop()
        self.hasher.close()
        await self.db.dispose()
