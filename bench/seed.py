"""Fixtures written straight into the database with gkchat's own tables, before the server runs.

Registering thousands of accounts through the API would cost an argon2 hash each (tens of
milliseconds of server CPU), and a million messages through the API would take hours; neither
is what a scenario wants to measure. So accounts, sessions (with tokens we know), friendships
and history are inserted in big batches with SQLAlchemy Core, after ``gkchat``'s own migrations
have built the schema. Every account's password is ``PASSWORD`` (hashed once, with the server's
default argon2 settings, so that sign-ins cost what they cost in production).
"""

import asyncio
import functools
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from sqlalchemy import event, text

from gkchat.config import Settings
from gkchat.db.engine import Database
from gkchat.db.migrate import head_revision, upgrade
from gkchat.db.repos.friends import ordered
from gkchat.db.tables import (
    conversations,
    events,
    friendships,
    messages,
    sessions,
    stream_heads,
    users,
)
from gkchat.domain.ids import new_id
from gkchat.security.tokens import hash_token, new_token
from gkchat.services.message_writer import SendCommand
from gkchat.services.stream import encode_cursor
from gkchat.services.views import message as message_view

PASSWORD = "bench password 4 GK-Chat"  # noqa: S105
BATCH = 5000
Account = dict[str, str]


@functools.cache
def password_hash() -> str:
    defaults = Settings.model_fields
    hasher = Argon2Hasher(
        time_cost=defaults["argon2_time_cost"].default,
        memory_cost=defaults["argon2_memory_kib"].default,
        parallelism=defaults["argon2_parallelism"].default,
        type=Type.ID,
    )
    return hasher.hash(PASSWORD)


async def _open(url: str) -> Database:
    db = Database(url)
    if db.is_sqlite:
        # Seeding is not a durability test: skip the fsync of every batch's commit.
        @event.listens_for(db.engine.sync_engine, "connect")
        def _fast(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA synchronous=OFF")

    await upgrade(db)
    return db


async def _insert(db: Database, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        async with db.write() as conn:
            await conn.execute(table.insert(), list(rows[start : start + BATCH]))


def _user_rows(prefix: str, count: int, now: datetime) -> list[dict[str, Any]]:
    hashed = password_hash()
    rows = []
    for i in range(count):
        name = f"{prefix}{i}"
        rows.append(
            {
                "id": new_id(),
                "username": name,
                "username_key": name.lower(),
                "email": f"{name}@bench.example",
                "email_key": f"{name}@bench.example".lower(),
                "password_hash": hashed,
                "created_at": now,
                "disabled": False,
                "last_seen_at": None,
            }
        )
    return rows


async def seed_accounts(url: str, count: int, *, pairs: bool = False) -> list[Account]:
    """``count`` accounts, each with one session; with ``pairs``, 0-1, 2-3, … are friends.

    Returns ``[{id, username, token}]`` in order.
    """
    db = await _open(url)
    try:
        now = datetime.now(UTC)
        prefix = f"b{new_id()[-6:].lower()}_"
        rows = _user_rows(prefix, count, now)
        await _insert(db, users, rows)
        accounts = [{"id": r["id"], "username": r["username"], "token": new_token()} for r in rows]
        session_rows = [
            {
                "id": new_id(),
                "user_id": a["id"],
                "token_hash": hash_token(a["token"]),
                "created_at": now,
                "expires_at": now + timedelta(days=1),
                "last_used_at": now,
                "user_agent": "gkchat-bench",
            }
            for a in accounts
        ]
        await _insert(db, sessions, session_rows)
        if pairs:
            friends = []
            for i in range(0, count - 1, 2):
                low, high = ordered(accounts[i]["id"], accounts[i + 1]["id"])
                friends.append({"user_id1": low, "user_id2": high, "created_at": now})
            await _insert(db, friendships, friends)
        return accounts
    finally:
        await db.dispose()


def pair_sends(
    accounts: Sequence[Account], pairs: int, *, start: int, size: int
) -> list[SendCommand]:
    """``size`` sends between the friend pairs of ``seed_accounts(..., pairs=True)``, as the
    group-commit writer takes them: send ``i`` goes between pair ``i % pairs``, the two sides
    taking turns. ``start`` says where to begin, so that batches can take turns through more
    pairs than one batch holds."""
    sends = []
    for i in range(start, start + size):
        sender = accounts[(i % pairs) * 2 + i % 2]
        recipient = accounts[(i % pairs) * 2 + 1 - i % 2]
        sends.append(
            SendCommand(sender["id"], recipient["id"], "hello there", new_id(), sender["username"])
        )
    return sends


def seed_accounts_sync(url: str, count: int, *, pairs: bool = False) -> list[Account]:
    return asyncio.run(seed_accounts(url, count, pairs=pairs))


# History: one long conversation inside a big database


def history_cache_key(kind: str, total: int, conversation: int, sync_events: int) -> str:
    return f"{kind}_{head_revision()}_{total}_{conversation}_{sync_events}"


def cache_dir() -> Path:
    folder = Path(
        os.environ.get("GKCHAT_BENCH_CACHE", Path(tempfile.gettempdir()) / "gkchat-bench")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def seed_history(
    url: str, *, total: int, conversation: int, sync_events: int, others: int = 200
) -> dict[str, Any]:
    """``total`` messages of which ``conversation`` between two users (alice and bob); the rest
    spread evenly over ``others`` other friend pairs. Bob's stream holds ``sync_events``
    ``message.created`` events after the returned ``sync_since`` cursor.

    Returns the metadata a run needs: the two accounts (with tokens that do not expire for a
    year) and the cursor.
    """
    db = await _open(url)
    try:
        start = datetime.now(UTC) - timedelta(days=30)
        people = _user_rows(f"h{new_id()[-6:].lower()}_", 2 + 2 * others, start)
        await _insert(db, users, people)
        alice, bob = people[0], people[1]
        tokens = {"alice": new_token(), "bob": new_token()}
        await _insert(
            db,
            sessions,
            [
                {
                    "id": new_id(),
                    "user_id": person["id"],
                    "token_hash": hash_token(tokens[role]),
                    "created_at": start,
                    "expires_at": start + timedelta(days=365),
                    "last_used_at": datetime.now(UTC),
                    "user_agent": "gkchat-bench",
                }
                for role, person in (("alice", alice), ("bob", bob))
            ],
        )
        pairs = [(people[i]["id"], people[i + 1]["id"]) for i in range(0, len(people), 2)]
        await _insert(
            db,
            friendships,
            [
                {"user_id1": ordered(a, b)[0], "user_id2": ordered(a, b)[1], "created_at": start}
                for a, b in pairs
            ],
        )
        per_pair = [conversation] + [
            (total - conversation) // others + (1 if i < (total - conversation) % others else 0)
            for i in range(others)
        ]
        step = timedelta(milliseconds=1)
        conversation_rows = []
        last_messages: list[dict[str, Any]] = []
        for (a, b), count in zip(pairs, per_pair, strict=True):
            low, high = ordered(a, b)
            batch: list[dict[str, Any]] = []
            at = start
            last_id = None
            for seq in range(1, count + 1):
                sender, recipient = (a, b) if seq % 2 else (b, a)
                at += step
                last_id = new_id()
                batch.append(
                    {
                        "id": last_id,
                        "user_id1": low,
                        "user_id2": high,
                        "seq": seq,
                        "sender_id": sender,
                        "recipient_id": recipient,
                        "content": f"history message {seq} " + "lorem ipsum " * 4,
                        "client_id": None,
                        "created_at": at,
                        "edited_at": None,
                        "deleted_at": None,
                    }
                )
                if len(batch) >= BATCH * 4:
                    if (a, b) == pairs[0]:
                        last_messages.extend(batch[-sync_events:])
                        last_messages[:] = last_messages[-sync_events:]
                    await _insert(db, messages, batch)
                    batch = []
            if batch:
                if (a, b) == pairs[0]:
                    last_messages.extend(batch[-sync_events:])
                    last_messages[:] = last_messages[-sync_events:]
                await _insert(db, messages, batch)
            conversation_rows.append(
                {
                    "user_id1": low,
                    "user_id2": high,
                    "last_seq": count,
                    "last_message_id": last_id,
                    "last_activity_at": at,
                    "read_seq1": count,
                    "read_seq2": count,
                    "delivered_seq1": count,
                    "delivered_seq2": count,
                }
            )
        await _insert(db, conversations, conversation_rows)
        # Bob's stream: the message.created events of the conversation's latest messages.
        event_rows = []
        for seq, row in enumerate(last_messages, start=1):
            view = message_view(_as_message(row))
            event_rows.append(
                {
                    "user_id": bob["id"],
                    "seq": seq,
                    "type": "message.created",
                    "data": orjson.dumps({"message": view}).decode(),
                    "created_at": row["created_at"],
                }
            )
        await _insert(db, events, event_rows)
        await _insert(db, stream_heads, [{"user_id": bob["id"], "seq": len(event_rows)}])
        if db.is_sqlite:
            async with db.write() as conn:
                await conn.execute(text("ANALYZE"))
            async with db.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            async with db.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE"))
        return {
            "alice": {"id": alice["id"], "username": alice["username"], "token": tokens["alice"]},
            "bob": {"id": bob["id"], "username": bob["username"], "token": tokens["bob"]},
            "sync_since": encode_cursor(0),
            "sync_events": len(event_rows),
            "total": total,
            "conversation": conversation,
        }
    finally:
        await db.dispose()


def _as_message(row: dict[str, Any]) -> Any:
    from gkchat.domain.models import Message

    return Message(
        id=row["id"],
        sender_id=row["sender_id"],
        recipient_id=row["recipient_id"],
        content=row["content"],
        client_id=None,
        created_at=row["created_at"],
        seq=row["seq"],
        edited_at=None,
        deleted_at=None,
    )


def write_meta(path: Path, meta: dict[str, Any]) -> None:
    path.write_text(json.dumps(meta, indent=2))


def read_meta(path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None
