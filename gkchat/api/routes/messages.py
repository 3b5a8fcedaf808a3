"""Sending, editing and deleting messages; history, conversations, read receipts and sync."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from gkchat.api.deps import CurrentAuth, ServicesDep
from gkchat.api.errors import ERROR_RESPONSES
from gkchat.api.pagination import PageQuery
from gkchat.api.schemas import (
    ConversationsOut,
    EditMessageIn,
    MessageEnvelope,
    MessagesOut,
    ReadIn,
    SendMessageIn,
    SyncOut,
)
from gkchat.services import views
from gkchat.services.stream import SYNC_LIMIT_DEFAULT, SYNC_LIMIT_MAX

router = APIRouter(tags=["messages"], responses=ERROR_RESPONSES)


@router.post(
    "/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageEnvelope,
    responses={200: {"model": MessageEnvelope, "description": "A retry: the same message"}},
)
async def send_message(
    body: SendMessageIn, auth: CurrentAuth, services: ServicesDep, response: Response
) -> dict[str, Any]:
    """Send a message to a friend; answered once it is durably stored.

    Sending again with the same ``client_id`` returns the stored message with 200.
    """
    services.send_limiter.check(auth.user.id)
    sent = await services.messages.send(
        sender=auth.user,
        recipient_id=body.recipient_id,
        content=body.content,
        client_id=body.client_id,
    )
    if not sent.created:
        response.status_code = status.HTTP_200_OK
    return {"message": views.message(sent.message)}


@router.patch("/messages/{message_id}", response_model=MessageEnvelope)
async def edit_message(
    message_id: str, body: EditMessageIn, auth: CurrentAuth, services: ServicesDep
) -> dict[str, Any]:
    """Change the text of a message you sent."""
    edited = await services.messages.edit(me=auth.user, message_id=message_id, content=body.content)
    return {"message": views.message(edited)}


@router.delete("/messages/{message_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_message(message_id: str, auth: CurrentAuth, services: ServicesDep) -> Response:
    """Delete a message you sent, for both sides; a tombstone stays in history."""
    await services.messages.delete(me=auth.user, message_id=message_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/conversations", response_model=ConversationsOut)
async def list_conversations(
    auth: CurrentAuth, services: ServicesDep, page: PageQuery
) -> dict[str, Any]:
    """Your conversations, most recent activity first, with unread counts."""
    result = await services.messages.conversations(
        me=auth.user, before=page.before, limit=page.limit
    )
    muted = await services.notifications.muted_peers(
        auth.user.id, [c.peer.id for c in result.items]
    )
    return {
        "conversations": [
            {
                "peer": views.public_user(c.peer),
                "last_message": views.message(c.last_message) if c.last_message else None,
                "unread_count": c.unread_count,
                "muted": c.peer.id in muted,
                "peer_delivered_seq": c.peer_delivered_seq,
                "peer_read_seq": c.peer_read_seq,
            }
            for c in result.items
        ],
        "next_before": result.next_before,
    }


@router.get("/conversations/{peer_id}/messages", response_model=MessagesOut)
async def conversation_history(
    peer_id: str, auth: CurrentAuth, services: ServicesDep, page: PageQuery
) -> dict[str, Any]:
    """Messages between you and ``peer_id``, newest first."""
    result = await services.messages.history(
        me=auth.user, peer_id=peer_id, before=page.before, limit=page.limit
    )
    return {
        "messages": [views.message(m) for m in result.items],
        "next_before": result.next_before,
    }


@router.post("/conversations/{peer_id}/read", status_code=status.HTTP_204_NO_CONTENT)
async def mark_read(
    peer_id: str, body: ReadIn, auth: CurrentAuth, services: ServicesDep
) -> Response:
    """Mark the peer's messages up to and including ``up_to`` as read; the peer is told."""
    await services.messages.mark_read(me=auth.user, peer_id=peer_id, up_to=body.up_to)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/conversations/{peer_id}/delivered", status_code=status.HTTP_204_NO_CONTENT)
async def mark_delivered(
    peer_id: str, body: ReadIn, auth: CurrentAuth, services: ServicesDep
) -> Response:
    """Say that this device has received the conversation up to and including ``up_to``; the
    peer gets a ``receipt.delivered`` event."""
    await services.messages.mark_delivered(me=auth.user, peer_id=peer_id, up_to=body.up_to)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/sync", response_model=SyncOut)
async def sync(
    auth: CurrentAuth,
    services: ServicesDep,
    since: Annotated[
        str | None,
        Query(
            max_length=32,
            description="The last cursor seen",
            json_schema_extra={"pattern": "^[0-9]{1,18}$"},
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=1, description=f"Default {SYNC_LIMIT_DEFAULT}, at most {SYNC_LIMIT_MAX}"),
    ] = None,
) -> dict[str, Any]:
    """Every event for you after ``since``, in order; without it, a fresh cursor."""
    page = await services.stream.sync(auth.user.id, since=since, limit=limit)
    return {
        "events": [{"type": e.type, "data": e.data, "cursor": str(e.seq)} for e in page.events],
        "cursor": page.cursor,
        "has_more": page.has_more,
    }
