"""Sign-up, sign-in and sign-out."""

from fastapi import APIRouter, Request, Response, status

from gkchat.api.cookies import clear_session_cookies, set_session_cookies
from gkchat.api.deps import ClientAddress, CurrentAuth, ServicesDep, UserAgent
from gkchat.api.errors import ERROR_RESPONSES
from gkchat.api.schemas import AuthOut, LoginIn, OwnUser, RegisterIn
from gkchat.services.accounts import SignedIn
from gkchat.services.container import Services

router = APIRouter(prefix="/auth", tags=["accounts"], responses=ERROR_RESPONSES)


def _signed_in(
    signed_in: SignedIn, request: Request, response: Response, services: Services
) -> AuthOut:
    session = signed_in.issued.session
    expires_at = services.sessions.expires_at(session)
    max_age = int((session.expires_at - session.created_at).total_seconds())
    set_session_cookies(
        response, request, services.settings, token=signed_in.issued.token, max_age=max_age
    )
    return AuthOut(
        user=OwnUser.of(signed_in.user), token=signed_in.issued.token, expires_at=expires_at
    )


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(
    body: RegisterIn,
    request: Request,
    response: Response,
    services: ServicesDep,
    address: ClientAddress,
    agent: UserAgent,
) -> AuthOut:
    """Create an account and sign it in."""
    await services.registration_throttle.hit(address)
    signed_in = await services.accounts.register(
        username=body.username, email=body.email, password=body.password, user_agent=agent
    )
    return _signed_in(signed_in, request, response, services)


@router.post("/login")
async def login(
    body: LoginIn,
    request: Request,
    response: Response,
    services: ServicesDep,
    address: ClientAddress,
    agent: UserAgent,
) -> AuthOut:
    """Sign in with a username or email address and a password."""
    signed_in = await services.accounts.login(
        login=body.login, password=body.password, address=address, user_agent=agent
    )
    return _signed_in(signed_in, request, response, services)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(auth: CurrentAuth, request: Request, services: ServicesDep) -> Response:
    """End the current session."""
    await services.sessions.revoke(user_id=auth.user.id, session_id=auth.session.id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookies(response, request, services.settings)
    return response
