"""Friend requests, friends and blocks."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from gkchat.api.deps import CurrentAuth, ServicesDep
from gkchat.api.errors import ERROR_RESPONSES
from gkchat.api.pagination import PageQuery
from gkchat.api.schemas import (
    BlockedUsersOut,
    FriendRequestOut,
    FriendshipEnvelope,
    FriendshipOut,
    FriendsOut,
    PublicUser,
    RequestEnvelope,
    RequestsOut,
    UserIdIn,
)

router = APIRouter(tags=["friends"], responses=ERROR_RESPONSES)


@router.post(
    "/friend-requests",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": FriendshipEnvelope, "description": "They had asked you: friends now"}
    },
)
async def send_friend_request(
    body: UserIdIn, auth: CurrentAuth, services: ServicesDep, response: Response
) -> RequestEnvelope | FriendshipEnvelope:
    """Ask someone to be friends; if they had already asked you, this accepts their request."""
    sent = await services.friends.send_request(me=auth.user, user_id=body.user_id)
    if sent.friendship is not None:
        response.status_code = status.HTTP_200_OK
        return FriendshipEnvelope(friendship=FriendshipOut.of(sent.friendship))
    assert sent.request is not None
    return RequestEnvelope(request=FriendRequestOut.of(sent.request))


@router.get("/friend-requests")
async def list_friend_requests(
    auth: CurrentAuth,
    services: ServicesDep,
    page: PageQuery,
    direction: Annotated[Literal["incoming", "outgoing"], Query()] = "incoming",
) -> RequestsOut:
    """Pending requests to you (incoming, the default) or from you (outgoing), newest first."""
    result = await services.friends.list_requests(
        me=auth.user, incoming=direction == "incoming", before=page.before, limit=page.limit
    )
    return RequestsOut(
        requests=[FriendRequestOut.of(r) for r in result.items], next_before=result.next_before
    )


@router.post("/friend-requests/{request_id}/accept")
async def accept_friend_request(
    request_id: str, auth: CurrentAuth, services: ServicesDep
) -> FriendshipEnvelope:
    """Accept a request sent to you."""
    friendship = await services.friends.accept(me=auth.user, request_id=request_id)
    return FriendshipEnvelope(friendship=FriendshipOut.of(friendship))


@router.post("/friend-requests/{request_id}/decline", status_code=status.HTTP_204_NO_CONTENT)
async def decline_friend_request(
    request_id: str, auth: CurrentAuth, services: ServicesDep
) -> Response:
    """Decline a request sent to you; the sender is not told."""
    await services.friends.decline(me=auth.user, request_id=request_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/friend-requests/{request_id}", status_code=status.HTTP_204_NO_CONTENT)
async def cancel_friend_request(
    request_id: str, auth: CurrentAuth, services: ServicesDep
) -> Response:
    """Withdraw a request you sent."""
    await services.friends.cancel(me=auth.user, request_id=request_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/friends")
async def list_friends(auth: CurrentAuth, services: ServicesDep, page: PageQuery) -> FriendsOut:
    """Your friends, most recent friendship first."""
    result = await services.friends.list_friends(me=auth.user, before=page.before, limit=page.limit)
    return FriendsOut(
        friends=[FriendshipOut.of(f) for f in result.items], next_before=result.next_before
    )


@router.delete("/friends/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unfriend(user_id: str, auth: CurrentAuth, services: ServicesDep) -> Response:
    """End a friendship, for both of you."""
    await services.friends.unfriend(me=auth.user, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/blocks", status_code=status.HTTP_204_NO_CONTENT)
async def block_user(body: UserIdIn, auth: CurrentAuth, services: ServicesDep) -> Response:
    """Block someone: ends any friendship and pending requests between you."""
    await services.friends.block(me=auth.user, user_id=body.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/blocks/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unblock_user(user_id: str, auth: CurrentAuth, services: ServicesDep) -> Response:
    """Lift a block (the friendship it ended is not restored)."""
    await services.friends.unblock(me=auth.user, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/blocks")
async def list_blocked_users(
    auth: CurrentAuth, services: ServicesDep, page: PageQuery
) -> BlockedUsersOut:
    """The users you have blocked, most recent first."""
    result = await services.friends.list_blocked(me=auth.user, before=page.before, limit=page.limit)
    return BlockedUsersOut(
        users=[PublicUser.of(u) for u in result.items], next_before=result.next_before
    )
