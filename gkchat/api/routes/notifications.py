"""Notifications: list with the unread count, mark one or all read; muting a conversation."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from gkchat.api.deps import CurrentAuth, ServicesDep
from gkchat.api.errors import ERROR_RESPONSES
from gkchat.api.pagination import PageQuery
from gkchat.api.schemas import NotificationsOut
from gkchat.services import views

router = APIRouter(tags=["notifications"], responses=ERROR_RESPONSES)


@router.get("/notifications", response_model=NotificationsOut)
async def list_notifications(
    auth: CurrentAuth,
    services: ServicesDep,
    page: PageQuery,
    unread: Annotated[bool, Query(description="Only unread ones")] = False,
) -> dict[str, Any]:
    """Your notifications, newest first, with how many are unread."""
    result, unread_count = await services.notifications.list_for(
        me=auth.user, unread_only=unread, before=page.before, limit=page.limit
    )
    return {
        "notifications": [views.notification(n) for n in result.items],
        "unread_count": unread_count,
        "next_before": result.next_before,
    }


@router.post("/notifications/read-all", status_code=status.HTTP_204_NO_CONTENT)
async def read_all_notifications(auth: CurrentAuth, services: ServicesDep) -> Response:
    """Mark every notification read."""
    await services.notifications.mark_all_read(me=auth.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/notifications/{notification_id}/read", status_code=status.HTTP_204_NO_CONTENT)
async def read_notification(
    notification_id: str, auth: CurrentAuth, services: ServicesDep
) -> Response:
    """Mark one of your notifications read."""
    await services.notifications.mark_read(me=auth.user, notification_id=notification_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/conversations/{peer_id}/mute", status_code=status.HTTP_204_NO_CONTENT)
async def mute_conversation(peer_id: str, auth: CurrentAuth, services: ServicesDep) -> Response:
    """No more message notifications from this person (their messages still arrive)."""
    await services.notifications.set_muted(me=auth.user, peer_id=peer_id, muted=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/conversations/{peer_id}/mute", status_code=status.HTTP_204_NO_CONTENT)
async def unmute_conversation(peer_id: str, auth: CurrentAuth, services: ServicesDep) -> Response:
    """Message notifications from this person again."""
    await services.notifications.set_muted(me=auth.user, peer_id=peer_id, muted=False)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
