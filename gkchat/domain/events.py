"""Domain events: what happened, and to whom it matters.

Services emit them inside the transaction that made the change; handlers that store things
(the event stream, notifications) run in that transaction, and handlers that only announce
(the real-time hub) run after the commit. ``audience`` names the users whose streams the
event belongs to.
"""

from dataclasses import dataclass
from datetime import datetime

from gkchat.domain.models import FriendRequest, Friendship, Message, Notification


@dataclass(frozen=True, slots=True)
class DomainEvent:
    type = "event"

    @property
    def audience(self) -> tuple[str, ...]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class FriendRequestCreated(DomainEvent):
    type = "friend_request.created"
    request: FriendRequest

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.request.from_user.id, self.request.to_user.id)


@dataclass(frozen=True, slots=True)
class FriendRequestAccepted(DomainEvent):
    """``friendship`` is the requester's view: its ``user`` is the one who accepted."""

    type = "friend_request.accepted"
    request: FriendRequest
    since: datetime

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.request.from_user.id, self.request.to_user.id)

    def friendship_for(self, user_id: str) -> Friendship:
        """The friendship as ``user_id`` sees it (``user`` is the other person)."""
        other = (
            self.request.to_user if user_id == self.request.from_user.id else self.request.from_user
        )
        return Friendship(user=other, since=self.since)


@dataclass(frozen=True, slots=True)
class FriendRequestDeclined(DomainEvent):
    type = "friend_request.declined"
    request: FriendRequest

    @property
    def audience(self) -> tuple[str, ...]:
        # The sender is not told about a decline; only the decliner's other devices are.
        return (self.request.to_user.id,)


@dataclass(frozen=True, slots=True)
class FriendRequestCancelled(DomainEvent):
    type = "friend_request.cancelled"
    request: FriendRequest

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.request.from_user.id, self.request.to_user.id)


@dataclass(frozen=True, slots=True)
class FriendRemoved(DomainEvent):
    type = "friend.removed"
    user_id: str
    friend_id: str

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.user_id, self.friend_id)


@dataclass(frozen=True, slots=True)
class UserBlocked(DomainEvent):
    """Only the blocker hears of a block; the blocked user learns nothing."""

    type = "user.blocked"
    blocker_id: str
    blocked_id: str
    ended_friendship: bool

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.blocker_id,)


@dataclass(frozen=True, slots=True)
class UserUnblocked(DomainEvent):
    type = "user.unblocked"
    blocker_id: str
    blocked_id: str

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.blocker_id,)


@dataclass(frozen=True, slots=True)
class MessageCreated(DomainEvent):
    type = "message.created"
    message: Message
    # The sender's username (usernames never change), for the notification's text.
    sender_name: str

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.message.sender_id, self.message.recipient_id)


@dataclass(frozen=True, slots=True)
class MessageUpdated(DomainEvent):
    type = "message.updated"
    message: Message

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.message.sender_id, self.message.recipient_id)


@dataclass(frozen=True, slots=True)
class MessageDeleted(DomainEvent):
    """``message`` is the tombstone: empty content, ``deleted_at`` set."""

    type = "message.deleted"
    message: Message

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.message.sender_id, self.message.recipient_id)


@dataclass(frozen=True, slots=True)
class ConversationRead(DomainEvent):
    """``reader_id`` has read ``peer_id``'s messages up to and including ``up_to``.

    The peer gets ``receipt.read``; the reader's own devices get ``conversation.read`` so that
    their unread counts follow.
    """

    type = "conversation.read"
    reader_id: str
    peer_id: str
    up_to: str
    seq: int
    tell_peer: bool = True

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.reader_id, self.peer_id) if self.tell_peer else (self.reader_id,)


@dataclass(frozen=True, slots=True)
class ConversationDelivered(DomainEvent):
    """``recipient_id``'s device has received ``peer_id``'s messages up to ``up_to``.

    Only the peer is told (``receipt.delivered``), and not across a block.
    """

    type = "receipt.delivered"
    recipient_id: str
    peer_id: str
    up_to: str
    seq: int

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.peer_id,)


@dataclass(frozen=True, slots=True)
class SessionsEnded(DomainEvent):
    """Sessions were revoked (logout, revoke, disable): their sockets must close.

    Not part of any stream; ``session_ids`` empty means every session of the user.
    """

    type = "sessions.ended"
    user_id: str
    session_ids: tuple[str, ...]

    @property
    def audience(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True, slots=True)
class NotificationCreated(DomainEvent):
    type = "notification.created"
    notification: Notification

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.notification.user_id,)


@dataclass(frozen=True, slots=True)
class NotificationUpdated(DomainEvent):
    """A collapsed notification took in another message."""

    type = "notification.updated"
    notification: Notification

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.notification.user_id,)


@dataclass(frozen=True, slots=True)
class NotificationsRead(DomainEvent):
    """Notifications were marked read; ``ids`` empty with ``everything`` means all of them."""

    type = "notification.read"
    user_id: str
    ids: tuple[str, ...]
    everything: bool = False

    @property
    def audience(self) -> tuple[str, ...]:
        return (self.user_id,)
