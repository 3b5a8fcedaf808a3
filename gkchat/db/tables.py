"""The schema as SQLAlchemy Core tables. Alembic migrations create exactly this."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from gkchat.db.types import UTCDateTime

ID = String(26)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("username", String(32), nullable=False),
    # Lower-cased copies carry the case-insensitive uniqueness on both dialects.
    Column("username_key", String(32), nullable=False, unique=True),
    Column("email", String(254), nullable=False),
    Column("email_key", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled", Boolean(), nullable=False, server_default=false()),
    Column("last_seen_at", UTCDateTime(), nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # SHA-256 of the bearer token: a stolen database does not yield usable tokens.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime(), nullable=False),
    Column("user_agent", String(512), nullable=True),
    Index(None, "user_id", "created_at"),
)

# A direct message. (user_id1, user_id2) is the conversation (the ordered pair) and ``seq`` the
# message's position in it, allocated under the conversation's row lock so that positions
# commit in order.
messages = Table(
    "messages",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id1", ID, nullable=False),
    Column("user_id2", ID, nullable=False),
    Column("seq", BigInteger(), nullable=False),
    Column("sender_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("recipient_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("content", Text(), nullable=False),
    Column("client_id", String(128), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("edited_at", UTCDateTime(), nullable=True),
    Column("deleted_at", UTCDateTime(), nullable=True),
    UniqueConstraint("sender_id", "client_id"),
    UniqueConstraint("user_id1", "user_id2", "seq"),
    # No index on recipient_id: nothing searches by it, and it cost every send a page
    # (migration 0008).
)

# One row per pair that has exchanged messages: the position counter, the latest message and
# how far each side has received and read.
conversations = Table(
    "conversations",
    metadata,
    Column("user_id1", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id2", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("last_seq", BigInteger(), nullable=False),
    Column("last_message_id", ID, nullable=True),
    Column("last_activity_at", UTCDateTime(), nullable=False),
    Column("read_seq1", BigInteger(), nullable=False, server_default="0"),
    Column("read_seq2", BigInteger(), nullable=False, server_default="0"),
    Column("delivered_seq1", BigInteger(), nullable=False, server_default="0"),
    Column("delivered_seq2", BigInteger(), nullable=False, server_default="0"),
    CheckConstraint("user_id1 < user_id2", name="ordered_pair"),
    # The primary key finds a user's conversations as user_id1, this index as user_id2. No
    # index holds last_activity_at, which every message changes (migration 0009).
    Index(None, "user_id2"),
)

# Each user's event stream: what /sync returns and the WebSocket pushes. ``seq`` is allocated
# from stream_heads under that row's lock, so a user's positions commit in order, gap-free.
stream_heads = Table(
    "stream_heads",
    metadata,
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", BigInteger(), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", BigInteger(), primary_key=True),
    Column("type", String(48), nullable=False),
    Column("data", Text(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

friendships = Table(
    "friendships",
    metadata,
    # One row per undirected pair: user_id1 is always the smaller id.
    Column("user_id1", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id2", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    CheckConstraint("user_id1 < user_id2", name="ordered_pair"),
    Index(None, "user_id2"),
)

# Stored notifications. A burst of messages from one sender collapses into one unread
# ``message`` notification per (user, actor): the partial unique index keeps it to one.
notifications = Table(
    "notifications",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(32), nullable=False),
    Column("reference_id", ID, nullable=True),
    Column("content", String(500), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("read_at", UTCDateTime(), nullable=True),
    Column("actor_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("count", Integer(), nullable=False, server_default="1"),
    # By user alone: every message bumps its burst's created_at, which an index holding it
    # would move on each send, and which on PostgreSQL kept the bump from being HOT
    # (migration 0010). The listing sorts a user's notifications instead.
    Index(None, "user_id"),
    Index(
        "uq_notifications_unread_message",
        "user_id",
        "actor_id",
        unique=True,
        sqlite_where=text("type = 'message' AND read_at IS NULL"),
        postgresql_where=text("type = 'message' AND read_at IS NULL"),
    ),
)

mutes = Table(
    "mutes",
    metadata,
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("peer_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Fixed-window failure counters for login throttling, shared by every server process.
throttle_counters = Table(
    "throttle_counters",
    metadata,
    Column("key", String(320), primary_key=True),
    Column("window_start", UTCDateTime(), nullable=False),
    Column("count", Integer(), nullable=False),
)

# Pending friend requests only: an accepted, declined or cancelled request is deleted.
# (user_id1, user_id2) is the ordered pair, unique, so that two people can never have two
# pending requests between them, whoever asked first.
friend_requests = Table(
    "friend_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("from_user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("to_user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("user_id1", ID, nullable=False),
    Column("user_id2", ID, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("user_id1", "user_id2"),
    CheckConstraint("user_id1 < user_id2", name="ordered_pair"),
    Index(None, "to_user_id", "created_at"),
    Index(None, "from_user_id", "created_at"),
)

blocks = Table(
    "blocks",
    metadata,
    Column("blocker_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("blocked_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "blocked_id"),
)

# Cluster-wide leases: periodic work (maintenance) runs on whichever node holds the lease.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)
