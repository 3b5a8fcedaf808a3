"""The user's sessions (devices): list and revoke."""

from fastapi import APIRouter, Response, status

from gkchat.api.deps import CurrentAuth, ServicesDep
from gkchat.api.errors import ERROR_RESPONSES
from gkchat.api.schemas import SessionOut, SessionsOut

router = APIRouter(prefix="/sessions", tags=["accounts"], responses=ERROR_RESPONSES)


@router.get("")
async def list_sessions(auth: CurrentAuth, services: ServicesDep) -> SessionsOut:
    """Every live session of the signed-in user, newest first."""
    sessions = await services.sessions.list_live(auth.user.id)
    return SessionsOut(
        sessions=[
            SessionOut.of(
                s, expires_at=services.sessions.expires_at(s), current=s.id == auth.session.id
            )
            for s in sessions
        ]
    )


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_session(session_id: str, auth: CurrentAuth, services: ServicesDep) -> Response:
    """End one session of the signed-in user (the current one included)."""
    await services.sessions.revoke(user_id=auth.user.id, session_id=session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_other_sessions(auth: CurrentAuth, services: ServicesDep) -> Response:
    """End every session of the signed-in user except the current one."""
    await services.sessions.revoke_all(user_id=auth.user.id, except_session_id=auth.session.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
