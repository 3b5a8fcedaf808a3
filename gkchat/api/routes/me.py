"""The signed-in user."""

from fastapi import APIRouter

from gkchat.api.deps import CurrentAuth
from gkchat.api.errors import ERROR_RESPONSES
from gkchat.api.schemas import OwnUser

router = APIRouter(tags=["accounts"], responses=ERROR_RESPONSES)


@router.get("/me")
async def me(auth: CurrentAuth) -> OwnUser:
    """The signed-in user, with their email address."""
    return OwnUser.of(auth.user)
