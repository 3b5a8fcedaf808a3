"""The asynchronous Python SDK for GK-Chat: HTTP with httpx, real time with websockets.

A bot that echoes every message it receives::

    async with Client("http://127.0.0.1:8000") as client:
        await client.login("echo", "a long and unusual passphrase")
        async for event in client.events():
            message = event.data.get("message")
            if event.type == "message.created" and message["sender_id"] != client.user["id"]:
                await client.send_message(message["sender_id"], message["content"])
"""

from gkchat.client.api import Client
from gkchat.client.errors import APIError, RealtimeClosed
from gkchat.client.realtime import EventStream, RealtimeConnection
from gkchat.client.types import (
    AuthResult,
    Conversation,
    Direction,
    Event,
    FriendRequest,
    Friendship,
    Health,
    Message,
    OwnUser,
    Page,
    PublicUser,
    Session,
    SyncResult,
)

__all__ = [
    "APIError",
    "AuthResult",
    "Client",
    "Conversation",
    "Direction",
    "Event",
    "EventStream",
    "FriendRequest",
    "Friendship",
    "Health",
    "Message",
    "OwnUser",
    "Page",
    "PublicUser",
    "RealtimeClosed",
    "RealtimeConnection",
    "Session",
    "SyncResult",
]
