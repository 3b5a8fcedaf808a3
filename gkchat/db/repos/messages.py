"""Messages and conversations."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.db.direct import Statement, bulk_insert
from gkchat.db.engine import pairs_value, select_by_pairs, upsertable_insert
from gkchat.db.repos.friends import ordered
from gkchat.db.tables import conversations, friendships, messages, users
from gkchat.domain.models import Conversation, Message, User

_MESSAGE_COLUMNS = (
    messages.c.id,
    messages.c.sender_id,
    messages.c.recipient_id,
    messages.c.content,
    messages.c.client_id,
    messages.c.created_at,
    messages.c.seq,
    messages.c.edited_at,
    messages.c.deleted_at,
)


def _message(row: Row[*tuple[Any, ...]]) -> Message:
    return _message_from(tuple(row))


def _message_from(row: tuple[Any, ...]) -> Message:
    """A message from a row of ``_MESSAGE_COLUMNS``, in that order."""
    id_, sender_id, recipient_id, content, client_id, created_at, seq, edited_at, deleted_at = row
    return Message(
        id=id_,
        sender_id=sender_id,
        recipient_id=recipient_id,
        content=content,
        client_id=client_id,
        created_at=created_at,
        seq=int(seq),
        edited_at=edited_at,
        deleted_at=deleted_at,
    )


async def get_message(conn: AsyncConnection, message_id: str) -> Message | None:
    row = (await conn.execute(select(*_MESSAGE_COLUMNS).where(messages.c.id == message_id))).first()
    return _message(row) if row else None


_BY_CLIENT_IDS = Statement(
    lambda dialect: select_by_pairs(
        dialect, _MESSAGE_COLUMNS, messages.c.sender_id, messages.c.client_id, "keys"
    ),
    ("keys",),
)


async def find_by_client_ids(
    conn: AsyncConnection, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], Message]:
    """Messages already stored under these (sender_id, client_id) pairs."""
    if not keys:
        return {}
    rows = await _BY_CLIENT_IDS.rows(conn, (pairs_value(keys),))
    found = [_message_from(row) for row in rows]
    return {(m.sender_id, m.client_id or ""): m for m in found}


async def existing_user_ids(conn: AsyncConnection, ids: Iterable[str]) -> set[str]:
    query = select(users.c.id).where(users.c.id.in_(sorted(set(ids))), users.c.disabled.is_(False))
    return set((await conn.execute(query)).scalars())


_FRIEND_PAIRS = Statement(
    lambda dialect: select_by_pairs(
        dialect,
        (friendships.c.user_id1, friendships.c.user_id2),
        friendships.c.user_id1,
        friendships.c.user_id2,
        "pairs",
        share_lock=True,
    ),
    ("pairs",),
)


async def friend_pairs(conn: AsyncConnection, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these ordered pairs are friends.

    The friendship rows are share-locked until commit (PostgreSQL), so an unfriend or block
    waits for the sends that saw the friendship, and no message lands after the block.
    """
    if not pairs:
        return set()
    rows = await _FRIEND_PAIRS.rows(conn, (pairs_value(pairs),))
    return {(user_id1, user_id2) for user_id1, user_id2 in rows}


def _advance_conversations(dialect: str) -> Any:
    c = conversations
    insert = upsertable_insert(dialect, c)
    return insert.on_conflict_do_update(
        index_elements=[c.c.user_id1, c.c.user_id2],
        set_={
            "last_seq": c.c.last_seq + insert.excluded.last_seq,
            "last_message_id": insert.excluded.last_message_id,
            "last_activity_at": insert.excluded.last_activity_at,
        },
    ).returning(c.c.user_id1, c.c.user_id2, c.c.last_seq)


_ADVANCE_CONVERSATIONS = Statement(
    _advance_conversations,
    (
        "user_id1",
        "user_id2",
        "last_seq",
        "last_message_id",
        "last_activity_at",
        "read_seq1",
        "read_seq2",
        "delivered_seq1",
        "delivered_seq2",
    ),
)


async def advance_conversations(
    conn: AsyncConnection,
    counts: dict[tuple[str, str], int],
    *,
    last_message_ids: dict[tuple[str, str], str],
    at: datetime,
) -> dict[tuple[str, str], int]:
    """Reserve ``counts[pair]`` positions in each conversation (creating it); return each
    pair's first position.

    The upserts run in pair order, as one statement (``Statement.rows_each``, as in
    ``stream.allocate``); the rows stay locked until commit, so positions commit in order
    and concurrent batches never deadlock.
    """
    if not counts:
        return {}
    rows = [
        (pair[0], pair[1], counts[pair], last_message_ids[pair], at, 0, 0, 0, 0)
        for pair in sorted(counts)
    ]
    first = {}
    for user_id1, user_id2, last_seq in await _ADVANCE_CONVERSATIONS.rows_each(conn, rows):
        pair = (user_id1, user_id2)
        first[pair] = int(last_seq) - counts[pair] + 1
    return first


_INSERT_MESSAGES = bulk_insert(
    messages,
    (
        "id",
        "user_id1",
        "user_id2",
        "seq",
        "sender_id",
        "recipient_id",
        "content",
        "client_id",
        "created_at",
    ),
)


async def insert_messages(conn: AsyncConnection, batch: Sequence[Message]) -> None:
    rows = []
    for m in batch:
        low, high = ordered(m.sender_id, m.recipient_id)
        rows.append(
            (
                m.id,
                low,
                high,
                m.seq,
                m.sender_id,
                m.recipient_id,
                m.content,
                m.client_id,
                m.created_at,
            )
        )
    await _INSERT_MESSAGES.run_each(conn, rows)


async def history(
    conn: AsyncConnection, a: str, b: str, *, before_seq: int | None, limit: int
) -> list[Message]:
    low, high = ordered(a, b)
    query = select(*_MESSAGE_COLUMNS).where(messages.c.user_id1 == low, messages.c.user_id2 == high)
    if before_seq is not None:
        query = query.where(messages.c.seq < before_seq)
    query = query.order_by(messages.c.seq.desc()).limit(limit)
    return [_message(row) for row in await conn.execute(query)]


async def set_content(
    conn: AsyncConnection, message_id: str, *, content: str, edited_at: datetime
) -> bool:
    """Replace a message's text; False when it is (by now) deleted."""
    result = await conn.execute(
        update(messages)
        .where(messages.c.id == message_id, messages.c.deleted_at.is_(None))
        .values(content=content, edited_at=edited_at)
    )
    return result.rowcount > 0


async def tombstone(conn: AsyncConnection, message_id: str, *, deleted_at: datetime) -> bool:
    """Empty a message and mark it deleted; False when it already was."""
    result = await conn.execute(
        update(messages)
        .where(messages.c.id == message_id, messages.c.deleted_at.is_(None))
        .values(content="", deleted_at=deleted_at)
    )
    return result.rowcount > 0


async def mark_read(conn: AsyncConnection, *, reader_id: str, peer_id: str, seq: int) -> bool:
    """Move the reader's read position forward to ``seq``; False when it was already there.

    What was read was received: the delivered position follows.
    """
    await mark_delivered(conn, recipient_id=reader_id, peer_id=peer_id, seq=seq)
    return await _advance(conn, "read_seq", user_id=reader_id, peer_id=peer_id, seq=seq)


async def mark_delivered(
    conn: AsyncConnection, *, recipient_id: str, peer_id: str, seq: int
) -> bool:
    """Move the recipient's delivered position forward to ``seq``; False when it was there."""
    return await _advance(conn, "delivered_seq", user_id=recipient_id, peer_id=peer_id, seq=seq)


async def _advance(
    conn: AsyncConnection, position: str, *, user_id: str, peer_id: str, seq: int
) -> bool:
    low, high = ordered(user_id, peer_id)
    column = conversations.c[f"{position}1" if user_id == low else f"{position}2"]
    result = await conn.execute(
        update(conversations)
        .where(conversations.c.user_id1 == low, conversations.c.user_id2 == high, column < seq)
        .values({column.name: seq})
    )
    return result.rowcount > 0


async def list_conversations(
    conn: AsyncConnection, user_id: str, *, before: tuple[datetime, str] | None, limit: int
) -> list[Conversation]:
    c = conversations
    peer_id = case((c.c.user_id1 == user_id, c.c.user_id2), else_=c.c.user_id1)
    i_am_first = c.c.user_id1 == user_id
    my_read = case((i_am_first, c.c.read_seq1), else_=c.c.read_seq2)
    peer_read = case((i_am_first, c.c.read_seq2), else_=c.c.read_seq1)
    peer_delivered = case((i_am_first, c.c.delivered_seq2), else_=c.c.delivered_seq1)
    unread = (
        select(func.count())
        .where(
            messages.c.user_id1 == c.c.user_id1,
            messages.c.user_id2 == c.c.user_id2,
            messages.c.seq > my_read,
            messages.c.sender_id != user_id,
            messages.c.deleted_at.is_(None),
        )
        .scalar_subquery()
    )
    last = messages.alias("last")
    query = (
        select(
            c.c.last_activity_at,
            unread.label("unread"),
            peer_read.label("peer_read_seq"),
            peer_delivered.label("peer_delivered_seq"),
            users.c.id.label("peer_id"),
            users.c.username.label("peer_username"),
            users.c.email.label("peer_email"),
            users.c.created_at.label("peer_created_at"),
            users.c.disabled.label("peer_disabled"),
            *[col.label(f"m_{col.name}") for col in last.c if col.name in _MESSAGE_NAMES],
        )
        .select_from(
            c.join(users, users.c.id == peer_id).outerjoin(last, last.c.id == c.c.last_message_id)
        )
        .where(or_(c.c.user_id1 == user_id, c.c.user_id2 == user_id))
    )
    if before is not None:
        at, pid = before
        query = query.where(
            or_(c.c.last_activity_at < at, and_(c.c.last_activity_at == at, users.c.id < pid))
        )
    query = query.order_by(c.c.last_activity_at.desc(), users.c.id.desc()).limit(limit)
    result = []
    for row in await conn.execute(query):
        peer = User(
            id=row.peer_id,
            username=row.peer_username,
            email=row.peer_email,
            created_at=row.peer_created_at,
            disabled=bool(row.peer_disabled),
        )
        m = row._mapping
        last_message = (
            Message(
                id=m["m_id"],
                sender_id=m["m_sender_id"],
                recipient_id=m["m_recipient_id"],
                content=m["m_content"],
                client_id=m["m_client_id"],
                created_at=m["m_created_at"],
                seq=int(m["m_seq"]),
                edited_at=m["m_edited_at"],
                deleted_at=m["m_deleted_at"],
            )
            if m["m_id"] is not None
            else None
        )
        result.append(
            Conversation(
                peer=peer,
                last_message=last_message,
                unread_count=int(row.unread),
                last_activity_at=row.last_activity_at,
                peer_delivered_seq=int(row.peer_delivered_seq),
                peer_read_seq=int(row.peer_read_seq),
            )
        )
    return result


_MESSAGE_NAMES = {col.name for col in _MESSAGE_COLUMNS}
