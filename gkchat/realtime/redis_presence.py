"""Cluster-wide presence in Redis: which node holds which users, and which nodes are alive.

A node is one server process. Keys (under the hub's prefix, ``gkchat`` by default):

- ``gkchat:presence:nodes``: the nodes that registered;
- ``gkchat:presence:alive:<node>``: exists while the node lives (a TTL its heartbeat renews);
- ``gkchat:presence:held:<node>``: the users with a socket on the node;
- ``gkchat:presence:user:<user>``: the nodes holding a socket of the user.

A user is online while any node in their set is alive, so a reader never believes a dead
node. Every node beats every ``timeout / 4`` with a TTL of ``timeout / 2`` and then sweeps:
a registered node whose key has expired is claimed by the one sweeper whose SREM removes it,
which announces its users offline unless another node holds them. A node that dies is thus
announced within three quarters of the timeout. A node that finds itself unregistered (Redis
restarted, or it was taken for dead during a long pause) writes its users back and announces
them online again.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gkchat.realtime.presence import LocalConnections, Presence
from gkchat.realtime.redis_names import RedisNames

log = logging.getLogger("gkchat.presence")

_FAILURES = (RedisError, OSError)


class RedisPresence(Presence):
    def __init__(
        self,
        redis: "Redis",
        names: RedisNames,
        node_id: str,
        local: LocalConnections,
        *,
        timeout: timedelta,
    ) -> None:
        super().__init__(local)
        self._redis = redis
        self._names = names
        self._node = node_id.encode()
        self._alive_key = names.alive(self._node)
        self._held_key = names.held(self._node)
        self._ttl_ms = max(int(timeout.total_seconds() * 500), 100)
        self._interval = timeout.total_seconds() / 4
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._stale = False  # what Redis holds for this node may differ from the truth
        self._registered = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._beat_forever(), name="gkchat-presence")

    async def stop(self) -> None:
        """Stop beating and take this node out (its sockets have closed by now)."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(*_FAILURES):
            held = await self._members(self._held_key)
            async with self._redis.pipeline(transaction=False) as pipe:
                for user in held:
                    pipe.srem(self._names.holders(user), self._node)
                pipe.delete(self._held_key, self._alive_key)
                pipe.srem(self._names.nodes, self._node)
                await pipe.execute()

    async def arrived(self, user_id: str) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.sadd(self._held_key, user_id)
                pipe.sadd(self._holders(user_id), self._node)
                await pipe.execute()
        except _FAILURES as exc:
            log.info("cannot record %s online in Redis (%s)", user_id, exc)
            self._stale = True

    async def left(self, user_id: str) -> bool:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.srem(self._held_key, user_id)
                pipe.srem(self._holders(user_id), self._node)
                pipe.smembers(self._holders(user_id))
                *_, nodes = await pipe.execute()
            return not await self._alive(nodes)
        except _FAILURES as exc:
            log.info("cannot record %s offline in Redis (%s)", user_id, exc)
            self._stale = True
            return True

    async def online_among(self, user_ids: Iterable[str]) -> set[str]:
        """The users with a socket here or on a live node (here only, if Redis is away)."""
        users = list(user_ids)
        online = {user for user in users if self._local.is_connected(user)}
        others = [user for user in users if user not in online]
        if not others:
            return online
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user in others:
                    pipe.smembers(self._holders(user))
                holders: list[set[bytes]] = await pipe.execute()
            alive = await self._alive(set().union(*holders))
        except _FAILURES as exc:
            log.info("presence falls back to this node's sockets (%s)", exc)
            return online
        return online | {user for user, nodes in zip(others, holders, strict=True) if nodes & alive}

    def _holders(self, user_id: str) -> bytes:
        return self._names.holders(user_id.encode())

    async def _members(self, key: bytes) -> set[bytes]:
        members = await self._redis.smembers(key)
        return {m if isinstance(m, bytes) else m.encode() for m in members}

    async def _alive(self, nodes: set[bytes]) -> set[bytes]:
        if not nodes:
            return set()
        ordered = list(nodes)
        values = await self._redis.mget([self._names.alive(node) for node in ordered])
        return {node for node, value in zip(ordered, values, strict=True) if value is not None}

    async def _beat_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._beat()
                await self._sweep()
            except _FAILURES as exc:
                log.info("presence heartbeat failed (%s); trying again", exc)
                self._stale = True
            except Exception:
                log.exception("presence heartbeat failed")
            # Not a plain sleep: a cancellation swallowed inside redis-py must not keep
            # this loop (and stop()) going.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

    async def _beat(self) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._alive_key, b"1", px=self._ttl_ms)
            pipe.sadd(self._names.nodes, self._node)
            _, added = await pipe.execute()
        if added or self._stale:
            await self._write_back()
        if added and self._registered:
            log.info("this node was forgotten (Redis restarted or it paused); re-announcing")
            await self._changed(self._local.user_ids(), online=True)
        self._registered = True

    async def _write_back(self) -> None:
        """Make Redis hold exactly this node's users."""
        stored = {user.decode() for user in await self._members(self._held_key)}
        local = set(self._local.user_ids())
        async with self._redis.pipeline(transaction=False) as pipe:
            for user in local - stored:
                pipe.sadd(self._held_key, user)
                pipe.sadd(self._holders(user), self._node)
            for user in stored - local:
                pipe.srem(self._held_key, user)
                pipe.srem(self._holders(user), self._node)
            await pipe.execute()
        self._stale = False

    async def _sweep(self) -> None:
        others = {node for node in await self._members(self._names.nodes) if node != self._node}
        for dead in others - await self._alive(others):
            if await self._redis.srem(self._names.nodes, dead):  # only one sweeper gets 1
                await self._forget(dead)

    async def _forget(self, node: bytes) -> None:
        """Take a dead node's users off it; announce offline those held nowhere else."""
        held_key = self._names.held(node)
        users = [user.decode() for user in await self._members(held_key)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for user in users:
                pipe.srem(self._holders(user), node)
            pipe.delete(held_key)
            await pipe.execute()
        online = await self.online_among(users)
        gone = [user for user in users if user not in online]
        log.info("node %s stopped without notice: %d of its users are offline", node, len(gone))
        await self._changed(gone, online=False)
