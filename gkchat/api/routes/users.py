"""Public profiles: prefix search and lookup by id."""

from typing import Annotated

from fastapi import APIRouter, Query

from gkchat.api.deps import CurrentAuth, ServicesDep
from gkchat.api.errors import ERROR_RESPONSES
from gkchat.api.schemas import PublicUser, UsersOut
from gkchat.services.accounts import SEARCH_LIMIT_DEFAULT

router = APIRouter(prefix="/users", tags=["users"], responses=ERROR_RESPONSES)


@router.get("")
async def search_users(
    _auth: CurrentAuth,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=256, description="Username prefix, any case")],
    limit: Annotated[int, Query(ge=1, description="At most 50")] = SEARCH_LIMIT_DEFAULT,
) -> UsersOut:
    """Users whose username starts with ``q``, ignoring case; shortest names first."""
    users = await services.accounts.search(q, limit=limit)
    return UsersOut(users=[PublicUser.of(u) for u in users])


@router.get("/{user_id}")
async def get_user(user_id: str, _auth: CurrentAuth, services: ServicesDep) -> PublicUser:
    """A user's public profile."""
    return PublicUser.of(await services.accounts.get_user(user_id))
