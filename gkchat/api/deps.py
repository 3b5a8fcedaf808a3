"""Typed dependencies: the services, the caller's session and the caller's address.

Every dependency is ``async def``, even those that await nothing: FastAPI runs a plain ``def``
dependency on its thread pool, a thread round trip per request for reading an attribute.
"""

from ipaddress import ip_address
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from gkchat.api.cookies import SESSION_COOKIE, csrf_ok
from gkchat.domain.errors import Forbidden, NotAuthenticated
from gkchat.services.container import Services
from gkchat.services.sessions import Authenticated

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


# Declared so that the OpenAPI schema says how to authenticate (a Bearer token, or the session
# cookie); they refuse nothing themselves: ``authenticate`` reads both and answers in the error
# shape of the contract.
_bearer_scheme = HTTPBearer(auto_error=False, description="The token from register or login")
_cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The browser session cookie; writes also need the X-CSRF-Token header",
)


async def authenticate(
    request: Request,
    services: ServicesDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
    _cookie: Annotated[str | None, Depends(_cookie_scheme)],
) -> Authenticated:
    """The caller's live session, from the Bearer header or else the session cookie."""
    token = bearer_token(request)
    if token is None:
        token = request.cookies.get(SESSION_COOKIE)
        if token is None:
            raise NotAuthenticated(
                "Sign in first: send 'Authorization: Bearer <token>'.", code="not_authenticated"
            )
        if request.method not in SAFE_METHODS and not csrf_ok(request):
            raise Forbidden(
                "Cookie-authenticated writes need the X-CSRF-Token header.", code="csrf_failed"
            )
    auth = await services.sessions.authenticate(token)
    request.state.auth = auth
    return auth


CurrentAuth = Annotated[Authenticated, Depends(authenticate)]


async def client_address(request: Request, services: ServicesDep) -> str | None:
    """The caller's IP: the peer, or the nearest untrusted X-Forwarded-For hop behind a proxy."""
    peer = request.client.host if request.client else None
    trusted = services.settings.trusted_proxies
    if peer is None or not trusted or not _is_in(peer, trusted):
        return peer
    # Several header lines are one list (a proxy may add its own line rather than append).
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _is_in(hop, trusted):
            return hop if _is_ip(hop) else peer
    return peer


def _is_ip(value: str) -> bool:
    try:
        ip_address(value)
    except ValueError:
        return False
    return True


def _is_in(address: str, networks: list) -> bool:  # type: ignore[type-arg]
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


ClientAddress = Annotated[str | None, Depends(client_address)]


async def user_agent(request: Request) -> str | None:
    return request.headers.get("user-agent")


UserAgent = Annotated[str | None, Depends(user_agent)]
