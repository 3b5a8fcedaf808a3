"""The Redis hub: pub/sub between server processes and nodes, one channel per user.

A process subscribes to ``gkchat:user:<id>`` while it holds a connection of that user (the
prefix is ``gkchat`` unless the URL names another: ``redis://host/0?prefix=staging``), and
every message for the user goes to that channel (this process's own connections included, so
delivery takes one path). Messages are ``[kind, frames, session ids]`` in orjson.

Publishing never waits for Redis: messages go to an outbox that one task sends in pipelined
batches, in order; while Redis is down they are logged and dropped (the database has them),
and once publishing works again the node asks every node to resync (``resync`` on the
control channel ``gkchat:hub``), since some hints never went out.
The listener task owns the subscribing connection: it notices a lost connection (an error, or
no answer to its pings), reconnects with backoff, subscribes every channel this process needs
again and then asks for a resync, so that every connection reads what lost hints would have
told it. redis-py retries nothing here: a failure must reach the listener, which then knows
that messages may have been lost.
"""

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections import deque
from datetime import timedelta
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from gkchat.realtime.hub import Hub, HubMessage, Kind
from gkchat.realtime.presence import LocalConnections, Presence
from gkchat.realtime.redis_names import split_hub_url

log = logging.getLogger("gkchat.hub")

RESYNC = b"resync"  # on the control channel: a node dropped hints, every node resyncs
OUTBOX_LIMIT = 100_000  # messages waiting for Redis before new ones are dropped
BATCH_SIZE = 500
PING_INTERVAL = 2.0  # the listener pings this often; three missed answers mean a dead link
RECONNECT_DELAYS = (0.05, 0.1, 0.2, 0.5, 1.0)
SUBSCRIBE_WAIT = 2.0
CONNECT_TIMEOUT = 2.0
COMMAND_TIMEOUT = 5.0


def encode(message: HubMessage) -> bytes:
    return orjson.dumps([message.kind.value, message.frames, message.session_ids])


def decode(user_id: str, payload: bytes) -> HubMessage:
    """Raises ValueError (or TypeError) for a payload this module did not write."""
    kind, frames, session_ids = orjson.loads(payload)
    return HubMessage(
        user_id,
        Kind(kind),
        tuple((int(position), str(text)) for position, text in frames),
        tuple(str(session) for session in session_ids),
    )


def connect_redis(url: str) -> "Redis":
    """A client that fails fast and never retries behind its caller's back."""
    return Redis.from_url(
        url,
        retry=Retry(NoBackoff(), 0),
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=COMMAND_TIMEOUT,
        socket_keepalive=True,
    )


class RedisHub(Hub):
    def __init__(self, url: str) -> None:
        super().__init__()
        url, self.names = split_hub_url(url)
        self.node_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.redis = connect_redis(url)  # commands and publishing
        self._listening = connect_redis(url)  # the subscribing connection's own pool
        self._channels: set[bytes] = set()
        self._pubsub: PubSub | None = None
        self._commands = asyncio.Lock()  # subscription commands leave in the order asked
        self._confirmations: dict[bytes, list[asyncio.Future[None]]] = {}
        self._late: set[bytes] = set()  # confirmed after its socket went on without it
        self._outbox: deque[HubMessage] = deque()
        self._outbox_ready = asyncio.Event()
        self._in_flight = 0  # messages taken from the outbox and not yet sent
        self._tasks: list[asyncio.Task[None]] = []
        self._resyncs: set[asyncio.Task[None]] = set()
        self._last_heard = 0.0
        self._publish_failing = False
        self._outbox_full = False
        self.connected = asyncio.Event()  # subscribed and listening
        self._stopping = False

    def presence(self, local: LocalConnections, *, timeout: timedelta) -> Presence:
        from gkchat.realtime.redis_presence import RedisPresence

        return RedisPresence(self.redis, self.names, self.node_id, local, timeout=timeout)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen_forever(), name="gkchat-hub-listener"),
            asyncio.create_task(self._publish_forever(), name="gkchat-hub-publisher"),
        ]

    async def stop(self) -> None:
        """Send what is waiting (for a moment at most), then let go of Redis."""
        self._stopping = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CONNECT_TIMEOUT):
                while (self._outbox or self._in_flight) and not self._publish_failing:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        tasks = [*self._tasks, *self._resyncs]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []
        await self._listening.aclose()
        await self.redis.aclose()

    # Publishing ---------------------------------------------------------------------------

    async def publish(self, messages: list[HubMessage]) -> None:
        if len(self._outbox) + len(messages) > OUTBOX_LIMIT:
            if not self._outbox_full:
                log.warning("the hub outbox is full: dropping live hints until Redis catches up")
            self._outbox_full = True
            return
        self._outbox_full = False
        self._outbox.extend(messages)
        self._outbox_ready.set()

    async def _publish_forever(self) -> None:
        while True:
            await self._outbox_ready.wait()
            batch = [self._outbox.popleft() for _ in range(min(BATCH_SIZE, len(self._outbox)))]
            if not self._outbox:
                self._outbox_ready.clear()
            self._in_flight = len(batch)
            # A pooled connection may have died with a Redis restart: one more try goes out
            # on a fresh one.
            sent = await self._send(batch) or await self._send(batch)
            self._in_flight = 0
            if not sent:
                if not self._publish_failing:
                    log.warning(
                        "cannot publish to Redis: live delivery is degraded, nothing stored "
                        "is lost; clients catch up when it is back"
                    )
                self._publish_failing = True
            elif self._publish_failing:
                log.info("publishing to Redis again; every node resyncs its connections")
                self._publish_failing = False
                await self._send([], control=RESYNC)

    async def _send(self, batch: list[HubMessage], *, control: bytes | None = None) -> bool:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for message in batch:
                    pipe.publish(self.names.user_channel(message.user_id), encode(message))
                if control is not None:
                    pipe.publish(self.names.control_channel, control)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.debug("publishing %d messages failed: %s", len(batch), exc)
            return False
        return True

    # Subscribing --------------------------------------------------------------------------

    async def subscribe(self, user_id: str) -> None:
        """Subscribe the user's channel and wait until Redis confirms it (briefly: while
        Redis is away the listener subscribes it when it is back)."""
        channel = self.names.user_channel(user_id)
        self._channels.add(channel)
        pubsub = self._pubsub
        if pubsub is None:
            return
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirmations.setdefault(channel, []).append(confirmed)
        try:
            async with self._commands:
                await pubsub.subscribe(channel)
            await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_WAIT)
        except TimeoutError:
            # The socket goes on; hints sent before Redis confirms may be lost, so the
            # confirmation, when it comes, triggers a resync.
            self._late.add(channel)
        except (RedisError, OSError) as exc:
            log.info("subscribing %s waits for Redis (%s)", user_id, exc)
        finally:
            waiting = self._confirmations.get(channel, [])
            if confirmed in waiting:
                waiting.remove(confirmed)
            if not waiting:
                self._confirmations.pop(channel, None)

    async def unsubscribe(self, user_id: str) -> None:
        channel = self.names.user_channel(user_id)
        self._channels.discard(channel)
        pubsub = self._pubsub
        if pubsub is None:
            return
        try:
            async with self._commands:
                if channel not in self._channels:  # not wanted again meanwhile
                    await pubsub.unsubscribe(channel)
        except (RedisError, OSError) as exc:
            log.info("unsubscribing %s failed (%s)", user_id, exc)

    async def _listen_forever(self) -> None:
        failures = 0
        while not self._stopping:
            pubsub = self._listening.pubsub()
            try:
                await self._listen(pubsub)
            except (RedisError, OSError) as exc:
                if self.connected.is_set():
                    log.warning("lost Redis (%s): live delivery is degraded until it is back", exc)
                    failures = 0
                elif failures == 0:
                    log.warning("cannot reach Redis (%s): live delivery waits for it", exc)
                failures += 1
            finally:
                self.connected.clear()
                self._pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS)) - 1])

    async def _listen(self, pubsub: PubSub) -> None:
        """Subscribe every wanted channel, resync once Redis has confirmed them, then hand
        each message to the listener until the connection fails."""
        self._pubsub = pubsub
        async with self._commands:
            await pubsub.subscribe(self.names.control_channel, *sorted(self._channels))
            # The answer to this ping follows every subscription confirmation.
            await pubsub.ping()
        self._last_heard = asyncio.get_running_loop().time()
        reader = asyncio.create_task(self._read(pubsub), name="gkchat-hub-reader")
        watchdog = asyncio.create_task(self._watch(pubsub), name="gkchat-hub-watchdog")
        try:
            done, _ = await asyncio.wait({reader, watchdog}, return_when="FIRST_COMPLETED")
        finally:
            for task in (reader, watchdog):
                task.cancel()
            await asyncio.gather(reader, watchdog, return_exceptions=True)
        for task in done:
            task.result()

    async def _read(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        while True:
            message: dict[str, Any] | None = await pubsub.get_message(timeout=None)
            self._last_heard = loop.time()
            if message is None:
                continue
            kind = message["type"]
            if kind == "message" and message["channel"] == self.names.control_channel:
                if message["data"] == RESYNC:
                    self._start_resync()
            elif kind == "message":
                self._on_message(message["channel"], message["data"])
            elif kind == "subscribe":
                for confirmed in self._confirmations.pop(message["channel"], []):
                    if not confirmed.done():
                        confirmed.set_result(None)
                if message["channel"] in self._late:
                    self._late.discard(message["channel"])
                    self._start_resync()
            elif kind == "pong" and not self.connected.is_set():
                self.connected.set()
                log.info("subscribed to Redis for %d users", len(self._channels))
                self._late.clear()  # the resync covers them
                self._start_resync()

    async def _watch(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(PING_INTERVAL)
            if loop.time() - self._last_heard > 3 * PING_INTERVAL:
                raise ConnectionError("Redis stopped answering pings")
            async with self._commands:
                await pubsub.ping()

    def _start_resync(self) -> None:
        resync = asyncio.create_task(self._resync_safely(), name="gkchat-hub-resync")
        self._resyncs.add(resync)
        resync.add_done_callback(self._resyncs.discard)

    async def _resync_safely(self) -> None:
        try:
            await self.resync()
        except Exception:
            log.exception("resync after reconnecting to Redis failed")

    def _on_message(self, channel: bytes, data: bytes) -> None:
        prefix = self.names.user_channels
        if not channel.startswith(prefix):
            return
        try:
            message = decode(channel[len(prefix) :].decode(), data)
        except (ValueError, TypeError, UnicodeDecodeError):
            log.warning("dropping a malformed hub message on %r", channel)
            return
        self.deliver(message)
