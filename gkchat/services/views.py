"""The public JSON shapes of the contract, as plain dicts.

Stored stream events and live WebSocket frames are built from these, and the REST responses
use the same functions, so an object looks the same wherever a client meets it.
"""

import functools
from datetime import datetime, timedelta
from typing import Any

from gkchat.domain import events
from gkchat.domain.models import FriendRequest, Friendship, Message, Notification, User

JSON = dict[str, Any]


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return _iso(value, value.utcoffset())


@functools.lru_cache(maxsize=256)
def _iso(value: datetime, offset: timedelta | None) -> str:
    """Cached, since the messages and events written together share one timestamp. The offset
    is part of the key: equal instants in other zones compare equal but print differently."""
    return value.isoformat().replace("+00:00", "Z")


def public_user(user: User) -> JSON:
    return {"id": user.id, "username": user.username, "created_at": timestamp(user.created_at)}


def message(m: Message) -> JSON:
    return {
        "id": m.id,
        "sender_id": m.sender_id,
        "recipient_id": m.recipient_id,
        "content": m.content,
        "created_at": timestamp(m.created_at),
        "edited_at": timestamp(m.edited_at),
        "deleted_at": timestamp(m.deleted_at),
        "client_id": m.client_id,
        "seq": m.seq,
    }


def friend_request(r: FriendRequest) -> JSON:
    return {
        "id": r.id,
        "from_user": public_user(r.from_user),
        "to_user": public_user(r.to_user),
        "created_at": timestamp(r.created_at),
    }


def friendship(f: Friendship) -> JSON:
    return {"user": public_user(f.user), "since": timestamp(f.since)}


def notification(n: Notification) -> JSON:
    return {
        "id": n.id,
        "type": n.type,
        "reference_id": n.reference_id,
        "content": n.content,
        "created_at": timestamp(n.created_at),
        "read_at": timestamp(n.read_at),
        "actor_id": n.actor_id,
        "count": n.count,
    }


def stream_entries(event: events.DomainEvent) -> list[tuple[str, str, JSON]]:
    """The (user_id, type, data) stream entries an event becomes, one per member of its audience.

    Events that only some of the audience should see, or that look different to each side,
    are spelled out here.
    """
    match event:
        case events.MessageCreated() | events.MessageUpdated() | events.MessageDeleted():
            data = {"message": message(event.message)}
            return [(user_id, event.type, data) for user_id in event.audience]
        case events.FriendRequestCreated():
            data = {"request": friend_request(event.request)}
            return [(user_id, event.type, data) for user_id in event.audience]
        case events.FriendRequestAccepted():
            return [
                (
                    user_id,
                    event.type,
                    {
                        "request_id": event.request.id,
                        "friendship": friendship(event.friendship_for(user_id)),
                    },
                )
                for user_id in event.audience
            ]
        case events.FriendRequestDeclined() | events.FriendRequestCancelled():
            ref: JSON = {"request_id": event.request.id}
            return [(user_id, event.type, ref) for user_id in event.audience]
        case events.FriendRemoved():
            return [
                (event.user_id, event.type, {"user_id": event.friend_id}),
                (event.friend_id, event.type, {"user_id": event.user_id}),
            ]
        case events.UserBlocked() | events.UserUnblocked():
            return [(event.blocker_id, event.type, {"user_id": event.blocked_id})]
        case events.ConversationRead():
            own: JSON = {"peer_id": event.peer_id, "up_to": event.up_to, "seq": event.seq}
            entries = [(event.reader_id, "conversation.read", own)]
            if event.tell_peer:
                receipt: JSON = {"peer_id": event.reader_id, "up_to": event.up_to, "seq": event.seq}
                entries.insert(0, (event.peer_id, "receipt.read", receipt))
            return entries
        case events.ConversationDelivered():
            delivered = {"peer_id": event.recipient_id, "up_to": event.up_to, "seq": event.seq}
            return [(event.peer_id, event.type, delivered)]
        case events.NotificationCreated() | events.NotificationUpdated():
            data = {"notification": notification(event.notification)}
            return [(event.notification.user_id, event.type, data)]
        case events.NotificationsRead():
            read: JSON = {"ids": list(event.ids), "all": event.everything}
            return [(event.user_id, event.type, read)]
        case events.SessionsEnded():
            return []
    raise TypeError(f"no stream entries defined for {type(event).__name__}")
