"""Durability under fire: clients that retry every send until it is acknowledged, while the
server is killed with SIGKILL (``kill``) or its PostgreSQL connections are terminated
(``cut``), and a check afterwards that nothing acknowledged was lost, duplicated or reordered.

The server is a real ``gkchat serve`` process (:class:`tests.support.process.ServerProcess`);
clients are the project's SDK (``gkchat.client``) for WebSocket senders and plain HTTP for
REST senders, so that every answer can be checked against the contract's error shape.

Each conversation has two senders, one at each end, each sending its messages one at a time
(the next only once the previous is acknowledged) and retrying the same ``client_id`` and
content after any failure: a refused or dropped connection, a timeout, a closed socket, or a
503 (which must carry ``Retry-After`` and the error shape). Anything else (a 500, a 409, an
error frame other than ``unavailable``) is counted as unexpected. Half the conversations send
over REST, half over WebSocket.

A disruption is triggered when the number of acknowledged messages passes a point drawn at
random, so every one lands in the middle of the traffic. Time to recover is measured from the
disruption (the SIGKILL, or the terminate) to the first acknowledgement of a send attempt begun
after it; for a kill it includes starting the server again (``gkchat serve`` until
``/health`` answers) and the clients' backoff.

Afterwards, with the server still up: each conversation's history must hold exactly the
acknowledged messages (same ids), each once, each sender's in the order it sent them, with
``seq`` 1, 2, 3... without a gap; each user's ``/sync`` from the beginning must list the same
``message.created`` events in the same order, once each. Then, with the server stopped:
SQLite's ``PRAGMA integrity_check`` and ``foreign_key_check``.

Run it from the command line for the long figures (the test suite runs a short mode)::

    python -m tests.stress --long                       # 10,000 messages, 20 kills, both databases
    python -m tests.stress --scenario cut --database postgres --long
    python -m tests.stress --messages 2000 --disruptions 5 --database sqlite
"""

import asyncio
import contextlib
import os
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.exceptions import WebSocketException

from gkchat.client import APIError, Client, RealtimeClosed, RealtimeConnection
from gkchat.db.engine import normalise_url
from tests.support import databases
from tests.support.process import READY_TIMEOUT, ServerProcess, started_server
from tests.support.sdk import PASSWORD, befriend, user_id

Scenario = Literal["kill", "cut"]
Backend = Literal["sqlite", "postgres"]

ATTEMPT_TIMEOUT = 30.0  # one send attempt; a healthy server answers in milliseconds
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 1.0
STATE_TIMEOUT = 120.0  # a limit for setting up and for reading everything back
# A generous limit for the load itself (a hung run fails instead of hanging), plus a server
# start per disruption.
LOAD_SECONDS_BASE = 120.0
LOAD_SECONDS_PER_MESSAGE = 0.1


@dataclass(frozen=True)
class Plan:
    """What to run: ``messages`` in all, over ``conversations`` (two senders each), with
    ``disruptions`` kills or cuts at random points."""

    scenario: Scenario
    backend: Backend
    messages: int
    disruptions: int
    conversations: int = 8
    seed: int | None = None

    @property
    def senders(self) -> int:
        return 2 * self.conversations


SHORT = {"messages": 400, "disruptions": 3, "conversations": 8}
LONG = {"messages": 10_000, "disruptions": 20, "conversations": 25}


@dataclass
class Figures:
    """What a run measured; :meth:`problems` lists everything that broke a promise."""

    scenario: str
    backend: str
    messages: int = 0
    acked: int = 0
    attempts: int = 0
    disruptions: int = 0
    unavailable: int = 0  # 503 answers and `unavailable` error frames, all well formed
    connection_failures: int = 0
    recover_seconds: list[float] = field(default_factory=list)
    restart_seconds: list[float] = field(default_factory=list)  # kill: serve until /health
    lost: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    stream_mismatches: int = 0
    integrity: str = "not checked"
    unexpected: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def retries(self) -> int:
        return self.attempts - self.acked

    def problems(self) -> list[str]:
        found = []
        if self.acked != self.messages:
            found.append(f"{self.messages - self.acked} messages never acknowledged")
        for name in ("lost", "duplicates", "out_of_order", "stream_mismatches"):
            if getattr(self, name):
                found.append(f"{name}: {getattr(self, name)}")
        if self.integrity != "ok":
            found.append(f"integrity: {self.integrity}")
        if self.unexpected:
            found.append(f"unexpected answers: {dict(self.unexpected)}")
        if len(self.recover_seconds) != self.disruptions:
            found.append(f"{self.disruptions} disruptions, {len(self.recover_seconds)} recoveries")
        return found

    def summary(self) -> str:
        recover = sorted(self.recover_seconds)
        p50 = statistics.median(recover) if recover else float("nan")
        worst = recover[-1] if recover else float("nan")
        noun = "kills" if self.scenario == "kill" else "connection cuts"
        if self.restart_seconds:
            noun += f" (server back up in p50 {statistics.median(self.restart_seconds):.2f} s)"
        return (
            f"{self.scenario} on {self.backend}: {self.acked:,} of {self.messages:,} messages "
            f"acked in {self.elapsed:.1f} s; {self.retries:,} retries "
            f"({self.unavailable:,} answered 503/unavailable, "
            f"{self.connection_failures:,} connection failures); {self.disruptions} {noun}; "
            f"time to recover p50 {p50:.2f} s, max {worst:.2f} s; lost={self.lost} "
            f"dups={self.duplicates} out_of_order={self.out_of_order} "
            f"stream_mismatches={self.stream_mismatches} integrity={self.integrity} "
            f"unexpected={dict(self.unexpected) or 0}"
        )


@dataclass
class Sent:
    """One message as its sender knows it."""

    sender: str
    index: int
    content: str
    client_id: str
    message_id: str | None = None


class Run:
    """The shared state of one run: counters, the acknowledgement clock, disruption points."""

    def __init__(self, plan: Plan, server: ServerProcess, rng: random.Random) -> None:
        self.plan = plan
        self.server = server
        self.rng = rng
        self.figures = Figures(plan.scenario, plan.backend, messages=plan.messages)
        self.acked_event = asyncio.Event()
        self.disrupted_at: float | None = None  # until an attempt begun since is acked
        self.recovered = asyncio.Event()

    def acknowledged(self, attempt_started: float) -> None:
        """An attempt begun at ``attempt_started`` was acked; the first attempt begun after a
        disruption to be acked ends the recovery (an answer already on its way when the
        server was killed does not count)."""
        self.figures.acked += 1
        self.acked_event.set()
        if self.disrupted_at is not None and attempt_started >= self.disrupted_at:
            self.figures.recover_seconds.append(time.monotonic() - self.disrupted_at)
            self.disrupted_at = None
            self.recovered.set()

    def unexpected(self, what: str) -> None:
        self.figures.unexpected[what[:120]] += 1

    async def backoff(self, failures: int) -> None:
        delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2.0 ** min(failures, 10))
        await asyncio.sleep(delay * self.rng.uniform(0.5, 1.0))


# --- senders ---------------------------------------------------------------------------------


def check_unavailable(response: httpx.Response) -> str | None:
    """None if ``response`` is a well-formed 503 (error shape, Retry-After); else what is wrong."""
    try:
        body = response.json()
        error = body["error"]
        shaped = set(body) == {"error"} and set(error) == {"code", "message"}
    except (ValueError, KeyError, TypeError):
        shaped = False
    if not shaped:
        return f"503 not in the error shape: {response.text[:80]}"
    retry_after = response.headers.get("retry-after", "")
    if not retry_after.isdigit() or int(retry_after) < 1:
        return f"503 without a valid Retry-After ({retry_after!r})"
    return None


async def send_over_rest(
    run: Run, http: httpx.AsyncClient, token: str, recipient: str, message: Sent
) -> None:
    """POST the message until it is stored (201, or 200 for a copy stored before)."""
    body = {"recipient_id": recipient, "content": message.content, "client_id": message.client_id}
    headers = {"Authorization": f"Bearer {token}"}
    failures = 0
    while True:
        run.figures.attempts += 1
        started = time.monotonic()
        try:
            async with asyncio.timeout(ATTEMPT_TIMEOUT):
                response = await http.post("/messages", json=body, headers=headers)
        except (httpx.TransportError, TimeoutError):
            run.figures.connection_failures += 1
        else:
            if response.status_code in (200, 201):
                message.message_id = response.json()["message"]["id"]
                run.acknowledged(started)
                return
            if response.status_code == 503:
                run.figures.unavailable += 1
                if (problem := check_unavailable(response)) is not None:
                    run.unexpected(problem)
            else:
                run.unexpected(f"{response.status_code} {response.text[:80]}")
        failures += 1
        await run.backoff(failures)


class SocketSender:
    """A WebSocket through the SDK that reconnects whenever it is lost."""

    def __init__(self, run: Run, client: Client) -> None:
        self.run = run
        self.client = client
        self._stack = contextlib.AsyncExitStack()
        self._connection: RealtimeConnection | None = None

    async def _open(self) -> RealtimeConnection:
        if self._connection is None or self._connection.closed:
            await self.close()
            self._connection = await self._stack.enter_async_context(
                self.client.connect(keepalive=None)
            )
        return self._connection

    async def close(self) -> None:
        self._connection = None
        with contextlib.suppress(Exception):
            await self._stack.aclose()
        self._stack = contextlib.AsyncExitStack()

    async def send(self, recipient: str, message: Sent) -> None:
        failures = 0
        while True:
            self.run.figures.attempts += 1
            started = time.monotonic()
            try:
                async with asyncio.timeout(ATTEMPT_TIMEOUT):
                    connection = await self._open()
                    stored = await connection.send_message(
                        recipient, message.content, message.client_id
                    )
            except APIError as exc:
                # An error frame (no status), or the handshake refused with 503.
                if exc.code == "unavailable" and exc.status in (None, 503):
                    self.run.figures.unavailable += 1
                else:
                    self.run.unexpected(f"{exc.status} {exc.code}")
            except (RealtimeClosed, WebSocketException, OSError, TimeoutError):
                self.run.figures.connection_failures += 1
                await self.close()
            else:
                message.message_id = stored["id"]
                self.run.acknowledged(started)
                return
            failures += 1
            await self.run.backoff(failures)


async def sender(
    run: Run,
    client: Client,
    recipient: str,
    messages: list[Sent],
    *,
    over: Literal["rest", "ws"],
) -> None:
    """Send ``messages`` one after the other, each retried until it is acknowledged."""
    if over == "rest":
        assert client.token is not None
        async with httpx.AsyncClient(base_url=run.server.api_url, timeout=ATTEMPT_TIMEOUT) as http:
            for message in messages:
                await send_over_rest(run, http, client.token, recipient, message)
        return
    socket = SocketSender(run, client)
    try:
        for message in messages:
            await socket.send(recipient, message)
    finally:
        await socket.close()


# --- disruptions -----------------------------------------------------------------------------


async def terminate_backends(database_url: str) -> int:
    """pg_terminate_backend every other connection to the database; how many there were."""
    engine = create_async_engine(normalise_url(database_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            return len(result.all())
    finally:
        await engine.dispose()


async def disrupter(run: Run, points: list[int]) -> None:
    """At each point (a number of acknowledged messages) kill the server and start it again,
    or terminate its database connections; then wait for the recovery (see
    :meth:`Run.acknowledged`)."""
    for point in points:
        while run.figures.acked < point:
            run.acked_event.clear()
            await run.acked_event.wait()
        run.recovered.clear()
        run.disrupted_at = at = time.monotonic()
        if run.plan.scenario == "kill":
            run.server.kill()
            await asyncio.to_thread(run.server.start)
            run.figures.restart_seconds.append(time.monotonic() - at)
        else:
            await terminate_backends(run.server.env["GKCHAT_DATABASE_URL"])
        run.figures.disruptions += 1
        await run.recovered.wait()


def disruption_points(plan: Plan, rng: random.Random) -> list[int]:
    """Distinct acknowledgement counts, spread between 5 % and 95 % of the messages."""
    low, high = max(1, plan.messages // 20), max(2, plan.messages * 19 // 20)
    return sorted(rng.sample(range(low, high), min(plan.disruptions, high - low)))


# --- checks ----------------------------------------------------------------------------------


async def check_conversation(
    run: Run, one: Client, other: Client, sent: dict[str, list[Sent]]
) -> None:
    """History and both users' streams hold exactly what was acknowledged, in order, once."""
    figures = run.figures
    history = [m async for m in one.iter_history(user_id(other), page_size=200)][::-1]
    ids = [m["id"] for m in history]
    acked = {s.message_id for messages in sent.values() for s in messages if s.message_id}
    stored = set(ids)
    figures.lost += len(acked - stored)
    figures.duplicates += len(ids) - len(stored) + len(stored - acked)
    if [m["seq"] for m in history] != list(range(1, len(history) + 1)):
        figures.out_of_order += 1
    for sender_id, messages in sent.items():
        expected = [s.message_id for s in messages if s.message_id]
        got = [m["id"] for m in history if m["sender_id"] == sender_id]
        if got != expected:
            figures.out_of_order += 1
        by_id = {m["id"]: m for m in history}
        for message in messages:
            stored_message = by_id.get(message.message_id or "")
            if stored_message is not None and (
                stored_message["content"] != message.content
                or stored_message["client_id"] != message.client_id
            ):
                run.unexpected("a stored message differs from what was sent")
    for user in (one, other):
        if await stream_ids(user, {user_id(one), user_id(other)}) != ids:
            figures.stream_mismatches += 1


async def stream_ids(user: Client, pair: set[str]) -> list[str]:
    """The ids of the ``message.created`` events of one conversation in ``user``'s stream."""
    ids: list[str] = []
    cursor = "0"
    while True:
        page = await user.sync(since=cursor)
        for event in page.events:
            message = event.data.get("message") or {}
            if (
                event.type == "message.created"
                and {message.get("sender_id"), message.get("recipient_id")} == pair
            ):
                ids.append(message["id"])
        cursor = page.cursor
        if not page.has_more:
            return ids


def sqlite_integrity(path: Path) -> str:
    """ "ok", or what SQLite's integrity and foreign-key checks found."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        foreign = conn.execute("PRAGMA foreign_key_check").fetchall()
    result = "; ".join(str(row[0]) for row in rows)
    if foreign:
        result += f"; foreign key violations: {foreign[:5]}"
    return result


async def postgres_integrity(database_url: str) -> str:
    """ "ok" if no client_id is stored twice and every conversation's last_seq matches."""
    engine = create_async_engine(normalise_url(database_url))
    try:
        async with engine.connect() as conn:
            twice = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM (SELECT 1 FROM messages WHERE client_id IS NOT NULL "
                        "GROUP BY sender_id, client_id HAVING count(*) > 1) AS twice"
                    )
                )
            ).scalar_one()
            skewed = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM conversations c WHERE c.last_seq <> "
                        "(SELECT count(*) FROM messages m WHERE "
                        "(m.sender_id = c.user_id1 AND m.recipient_id = c.user_id2) OR "
                        "(m.sender_id = c.user_id2 AND m.recipient_id = c.user_id1))"
                    )
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    if twice or skewed:
        return f"{twice} client_ids stored twice, {skewed} conversations with a wrong last_seq"
    return "ok"


# --- one run ---------------------------------------------------------------------------------


@contextmanager
def stress_server(
    backend: Backend, directory: Path, admin_url: str | None, worker_id: str
) -> Iterator[ServerProcess]:
    """A started ``gkchat serve`` on a fresh SQLite file or scratch PostgreSQL database."""
    name = f"{databases.scratch_name('stress', worker_id)}_{secrets.token_hex(3)}"
    with started_server(backend, directory, admin_url, name) as server:
        yield server


@asynccontextmanager
async def signed_in_pairs(server: ServerProcess, count: int) -> AsyncIterator[list[list[Client]]]:
    clients: list[Client] = []
    try:
        pairs = []
        for _ in range(count):
            pair = []
            for prefix in ("a", "b"):
                client = Client(server.base_url, timeout=ATTEMPT_TIMEOUT)
                clients.append(client)
                name = f"{prefix}_{uuid.uuid4().hex[:10]}"
                await client.register(name, f"{name}@example.com", PASSWORD)
                pair.append(client)
            await befriend(pair[0], pair[1])
            pairs.append(pair)
        yield pairs
    finally:
        for client in clients:
            await client.aclose()


async def drive(plan: Plan, server: ServerProcess) -> Figures:
    """Run the load and the disruptions against ``server``, then check what it stored."""
    rng = random.Random(plan.seed)
    run = Run(plan, server, rng)
    async with contextlib.AsyncExitStack() as stack:
        async with asyncio.timeout(STATE_TIMEOUT):
            pairs = await stack.enter_async_context(signed_in_pairs(server, plan.conversations))
        per_sender = [plan.messages // plan.senders] * plan.senders
        for extra in range(plan.messages % plan.senders):
            per_sender[extra] += 1
        plan_sent: list[dict[str, list[Sent]]] = []
        tasks = []
        started = time.monotonic()
        for number, (one, other) in enumerate(pairs):
            over: Literal["rest", "ws"] = "rest" if number % 2 == 0 else "ws"
            conversation: dict[str, list[Sent]] = {}
            for side, (me, peer) in enumerate(((one, other), (other, one))):
                count = per_sender[2 * number + side]
                mine = [
                    Sent(user_id(me), i, f"{user_id(me)[-6:]} #{i}", str(uuid.uuid4()))
                    for i in range(count)
                ]
                conversation[user_id(me)] = mine
                tasks.append(sender(run, me, user_id(peer), mine, over=over))
            plan_sent.append(conversation)
        process = server.process
        senders = asyncio.gather(*tasks)
        disruptions = asyncio.ensure_future(disrupter(run, disruption_points(plan, rng)))
        limit = LOAD_SECONDS_BASE + plan.messages * LOAD_SECONDS_PER_MESSAGE
        try:
            async with asyncio.timeout(limit + plan.disruptions * READY_TIMEOUT):
                await senders
                await disruptions
        except TimeoutError:
            run.unexpected("the load did not finish in time")
        finally:
            senders.cancel()
            disruptions.cancel()
            await asyncio.gather(senders, disruptions, return_exceptions=True)
        run.figures.elapsed = time.monotonic() - started
        if plan.scenario == "cut" and (
            process is None or server.process is not process or process.poll() is not None
        ):
            run.unexpected("the server process exited when its connections were cut")
        async with asyncio.timeout(STATE_TIMEOUT):
            for (one, other), conversation in zip(pairs, plan_sent, strict=True):
                await check_conversation(run, one, other, conversation)
    return run.figures


def run_plan(plan: Plan, directory: Path, *, worker_id: str = "cli") -> Figures:
    """Start a server for ``plan``, drive it, stop it and check its database."""
    admin_url = databases.postgres_admin_url() or os.environ.get("GKCHAT_BENCH_POSTGRES_URL")
    with stress_server(plan.backend, directory, admin_url, worker_id) as server:
        figures = asyncio.run(drive(plan, server))
        if plan.backend == "postgres":
            figures.integrity = asyncio.run(postgres_integrity(server.env["GKCHAT_DATABASE_URL"]))
        server.stop()
        if plan.backend == "sqlite":
            figures.integrity = sqlite_integrity(directory / "data" / "gkchat.db")
    return figures


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.stress", description=__doc__)
    parser.add_argument("--scenario", choices=["kill", "cut", "both"], default="kill")
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--long", action="store_true", help="10,000 messages, 20 disruptions")
    parser.add_argument("--messages", type=int)
    parser.add_argument("--disruptions", type=int)
    parser.add_argument("--conversations", type=int)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    sizes = dict(LONG if args.long else SHORT)
    for key in ("messages", "disruptions", "conversations"):
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)
    scenarios: list[Scenario] = ["kill", "cut"] if args.scenario == "both" else [args.scenario]
    backends: list[Backend] = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    failed = False
    for scenario in scenarios:
        for backend in backends:
            if scenario == "cut" and backend == "sqlite":
                continue  # connections to an SQLite file cannot be cut from outside
            plan = Plan(scenario, backend, seed=args.seed, **sizes)
            with tempfile.TemporaryDirectory(prefix="gkchat-stress-") as directory:
                figures = run_plan(plan, Path(directory))
            sys.stdout.write(figures.summary() + "\n")
            for problem in figures.problems():
                sys.stdout.write(f"  PROBLEM: {problem}\n")
                failed = True
            sys.stdout.flush()
    return 1 if failed else 0
