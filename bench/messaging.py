"""Friend pairs exchanging messages: the load behind ws-messages, rest-messages and auth.

Every pair has a sender and a recipient, each with its own WebSocket. A step is either

- open loop (``rate``): message ``k`` of the step is due at ``t0 + k / rate`` on a fixed
  timetable, whatever happened to earlier ones, and its latencies are measured from that due
  time, so queueing anywhere (generator, kernel, server) counts: no coordinated omission; or
- closed loop (``window``): every sender keeps ``window`` messages unacknowledged for the
  step's duration, which finds the maximum rate (latencies there are from the actual send).

Messages go over the sender's WebSocket (``message.send`` -> ``message.ack``) or over
``POST /api/v1/messages`` on keep-alive HTTP/1.1 connections (the response is the ack).
Delivery is always the recipient's WebSocket receiving ``message.created``.
"""

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.generator import (
    SATURATED,
    Busy,
    Channel,
    Generators,
    HTTPConnection,
    close_all,
    generator_share,
    open_socket,
    report,
    send_frame,
    sleep_until,
)
from bench.server import Meter, Server
from bench.stats import latency_summary

CONTENT = "benchmark message " + "x" * 80


@dataclass
class _Step:
    index: int
    t0: float
    rate: float  # this generator's share; 0 for a closed-loop step
    count: int = 0
    acked: int = 0
    delivered: int = 0
    errors: int = 0
    ack: list[float] = field(default_factory=list)
    delivery: list[float] = field(default_factory=list)
    sent_at: dict[int, float] = field(default_factory=dict)  # closed loop only
    last_ack: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    credit: dict[int, asyncio.Semaphore] = field(default_factory=dict)

    def due(self, k: int) -> float:
        return self.sent_at[k] if self.rate == 0 else self.t0 + k / self.rate

    def check(self) -> None:
        if self.count and self.acked + self.errors >= self.count and self.delivered >= self.acked:
            self.done.set()


class _Load:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.pairs: list[tuple[dict[str, str], dict[str, str]]] = [(s, r) for s, r in spec["pairs"]]
        self.rest = spec["transport"] == "rest"
        self.steps: dict[int, _Step] = {}
        self.senders: list[ClientConnection | None] = []
        self.recipients: list[ClientConnection] = []
        self.pools: list[asyncio.Queue[HTTPConnection]] = []
        self.readers: list[asyncio.Task[None]] = []
        self.stray_errors = 0

    def _lookup(self, client_id: str | None) -> tuple[_Step, int] | None:
        if not client_id or ":" not in client_id:
            return None
        step, _, k = client_id.partition(":")
        found = self.steps.get(int(step))
        return (found, int(k)) if found is not None else None

    def _acked(self, client_id: str | None, error: bool = False) -> None:
        found = self._lookup(client_id)
        if found is None:
            # An error that names no message (a malformed frame?) must not go unnoticed.
            self.stray_errors += int(error)
            return
        step, k = found
        now = time.monotonic()
        if error:
            step.errors += 1
        else:
            step.acked += 1
            step.ack.append(now - step.due(k))
            step.last_ack = now
        if step.rate == 0 and k % len(self.pairs) in step.credit:
            step.credit[k % len(self.pairs)].release()
        step.check()

    async def _read_sender(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                frame = orjson.loads(raw)
                kind = frame["type"]
                if kind == "message.ack":
                    self._acked(frame["data"]["client_id"])
                elif kind == "error":
                    self._acked(frame["data"].get("client_id"), error=True)

    async def _read_recipient(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                frame = orjson.loads(raw)
                if frame["type"] != "message.created":
                    continue
                found = self._lookup(frame["data"]["message"]["client_id"])
                if found is None:
                    continue
                step, k = found
                step.delivered += 1
                step.delivery.append(time.monotonic() - step.due(k))
                step.check()

    async def open(self) -> None:
        ws_url = self.spec["ws_url"]
        limit = asyncio.Semaphore(50)

        async def one(token: str) -> ClientConnection:
            async with limit:
                return await open_socket(ws_url, token)

        self.recipients = list(await asyncio.gather(*(one(r["token"]) for _, r in self.pairs)))
        for ws in self.recipients:
            self.readers.append(asyncio.create_task(self._read_recipient(ws)))
        if self.rest:
            for sender, _ in self.pairs:
                pool: asyncio.Queue[HTTPConnection] = asyncio.Queue()
                for _ in range(self.spec["http_connections"]):
                    pool.put_nowait(
                        HTTPConnection(self.spec["host"], self.spec["port"], sender["token"])
                    )
                self.pools.append(pool)
        else:
            self.senders = list(await asyncio.gather(*(one(s["token"]) for s, _ in self.pairs)))
            for sender_ws in self.senders:
                assert sender_ws is not None
                self.readers.append(asyncio.create_task(self._read_sender(sender_ws)))

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        sockets = [ws for ws in self.senders if ws is not None] + self.recipients
        await close_all(sockets)
        for pool in self.pools:
            while not pool.empty():
                await pool.get_nowait().close()

    async def _send(self, step: _Step, pair: int, k: int) -> None:
        recipient = self.pairs[pair][1]
        client_id = f"{step.index}:{k}"
        if step.rate == 0:
            step.sent_at[k] = time.monotonic()
        if not self.rest:
            ws = self.senders[pair]
            assert ws is not None
            await ws.send(send_frame(recipient["id"], CONTENT, client_id), text=True)
            return
        connection = await self.pools[pair].get()
        try:
            status, _ = await connection.request(
                "POST",
                "/api/v1/messages",
                {"recipient_id": recipient["id"], "content": CONTENT, "client_id": client_id},
            )
        except (OSError, asyncio.IncompleteReadError):
            await connection.close()
            status = 599
        finally:
            self.pools[pair].put_nowait(connection)
        self._acked(client_id, error=status not in (200, 201))

    async def open_loop(self, step: _Step, duration: float) -> float:
        """Send on the timetable; return the worst lateness of a send (generator lag)."""
        pairs = len(self.pairs)
        step.count = max(1, round(step.rate * duration))
        lag = 0.0
        pending: set[asyncio.Task[None]] = set()

        async def pair_task(pair: int) -> None:
            nonlocal lag
            for k in range(pair, step.count, pairs):
                due = step.t0 + k / step.rate
                await sleep_until(due)
                lag = max(lag, time.monotonic() - due)
                if self.rest:
                    task = asyncio.create_task(self._send(step, pair, k))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                else:
                    await self._send(step, pair, k)

        await asyncio.gather(*(pair_task(i) for i in range(pairs)))
        return lag

    async def closed_loop(self, step: _Step, duration: float, window: int) -> None:
        pairs = len(self.pairs)
        deadline = step.t0 + duration
        counter = 0
        step.credit = {i: asyncio.Semaphore(window) for i in range(pairs)}
        step.count = 1 << 62  # not known until the sending stops

        async def pair_task(pair: int) -> None:
            nonlocal counter
            k = pair
            while time.monotonic() < deadline:
                await step.credit[pair].acquire()
                if self.rest:
                    task = asyncio.create_task(self._send(step, pair, k))
                    self.readers.append(task)  # cancelled at close if still running
                else:
                    await self._send(step, pair, k)
                counter += 1
                k += pairs

        await sleep_until(step.t0)
        await asyncio.gather(*(pair_task(i) for i in range(pairs)))
        step.count = counter
        step.check()


async def message_job(spec: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Generator side: open sockets, then run steps as the orchestrator starts them."""
    load = _Load(spec)
    await load.open()
    answer = await report(channel, {"ready": True})
    try:
        while answer.get("step") is not None:
            plan = answer
            step = _Step(index=plan["step"], t0=plan["t0"], rate=plan.get("rate", 0.0))
            load.steps[step.index] = step
            lag = 0.0
            with Busy() as busy:
                if step.rate > 0:
                    lag = await load.open_loop(step, plan["duration"])
                else:
                    await load.closed_loop(step, plan["duration"], plan["window"])
                sending_ended = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(step.done.wait(), plan["drain"])
            span = max(step.last_ack, sending_ended) - step.t0
            result = {
                "sent": step.count,
                "acked": step.acked,
                "delivered": step.delivered,
                "errors": step.errors + load.stray_errors,
                "span_s": span,
                "send_lag_max_s": lag,
                "generator_cpu": busy.share,
                "ack": step.ack,
                "delivery": step.delivery,
            }
            del load.steps[step.index]
            load.stray_errors = 0
            answer = await report(channel, result)
    finally:
        await load.close()
    return {}


@dataclass
class MessageLoad:
    """Orchestrator side: generator processes holding the pairs' sockets, driven step by step."""

    server: Server
    accounts: list[dict[str, str]]
    transport: str = "ws"
    generators: int = 1
    http_connections: int = 2
    _group: Generators | None = None
    _step: int = 0

    def __enter__(self) -> "MessageLoad":
        pairs = [
            [self.accounts[i], self.accounts[i + 1]] for i in range(0, len(self.accounts) - 1, 2)
        ]
        count = max(1, min(self.generators, len(pairs)))
        specs = [
            {
                "pairs": pairs[g::count],
                "transport": self.transport,
                "ws_url": self.server.ws_url,
                "host": "127.0.0.1",
                "port": self.server.port,
                "http_connections": self.http_connections,
            }
            for g in range(count)
        ]
        self.generators = count
        self._group = Generators(message_job, specs)
        self._group.recv_all()
        return self

    def __exit__(self, *_: object) -> None:
        if self._group is not None:
            self._group.send_all({"step": None})
            with contextlib.suppress(Exception):
                self._group.recv_all(60)
            self._group.close()

    def settle(self, *, busy_below: float = 0.1, timeout: float = 120.0) -> float:
        """Wait until the server is quiet (its CPU under ``busy_below`` of a core over half a
        second), so that a step does not start while an overloaded one is still being
        worked off; return the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            cpu0 = self.server.cpu_seconds()
            time.sleep(0.5)
            if (self.server.cpu_seconds() - cpu0) / 0.5 < busy_below:
                break
        return round(time.monotonic() - started, 1)

    def step(
        self, *, duration: float, rate: float = 0.0, window: int = 0, drain: float = 10.0
    ) -> dict[str, Any]:
        """Run one step on every generator; return its merged figures."""
        assert self._group is not None
        self._step += 1
        with Meter(self.server) as meter:
            t0 = time.monotonic() + 0.2
            self._group.send_all(
                {
                    "step": self._step,
                    "t0": t0,
                    "rate": rate / self.generators,
                    "window": window,
                    "duration": duration,
                    "drain": drain,
                }
            )
            parts = self._group.recv_all(duration + drain + 120)
        return merge_step(parts, meter, offered=rate, duration=duration)


def merge_step(
    parts: list[dict[str, Any]], meter: Meter, *, offered: float, duration: float
) -> dict[str, Any]:
    ack = [x for p in parts for x in p["ack"]]
    delivery = [x for p in parts for x in p["delivery"]]
    sent = sum(p["sent"] for p in parts)
    acked = sum(p["acked"] for p in parts)
    delivered = sum(p["delivered"] for p in parts)
    span = max(p["span_s"] for p in parts)
    busiest = generator_share([p["generator_cpu"] for p in parts])
    return {
        "offered_per_s": offered or None,
        "duration_s": duration,
        "sent": sent,
        "acked": acked,
        "delivered": delivered,
        "errors": sum(p["errors"] for p in parts),
        "undelivered": sent - delivered,  # not delivered before the drain time ran out
        "achieved_per_s": round(acked / span, 1) if span > 0 else None,
        "ack_ms": latency_summary(ack),
        "delivery_ms": latency_summary(delivery),
        "send_lag_max_ms": round(max(p["send_lag_max_s"] for p in parts) * 1000, 2),
        "generator_cpu": round(busiest, 3),
        "generator_saturated": busiest > SATURATED,
        **meter.result(acked),
    }
