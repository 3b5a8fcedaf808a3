"""Entities as plain frozen dataclasses."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    email: str
    created_at: datetime
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Session:
    """A login on one device. ``expires_at`` is the hard limit; idleness can end it sooner."""

    id: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user row with its password hash, only ever seen by the accounts service."""

    user: User
    password_hash: str


@dataclass(frozen=True, slots=True)
class FriendRequest:
    id: str
    from_user: User
    to_user: User
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Friendship:
    """One side's view of a friendship: ``user`` is the other person."""

    user: User
    since: datetime
