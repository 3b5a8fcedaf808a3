"""No token, password or CSRF token ever reaches a log line, whatever the log level.

A real ``gkchat serve`` runs with its uvicorn access log on; every way of signing in and of
authenticating (Bearer, cookie with CSRF, each WebSocket method) is used once, then the whole
output of the process is searched for every secret it was given or handed out.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.support.process import ServerProcess, clean_environment

PASSWORD = "a long and unusual passphrase"
WRONG_PASSWORD = "another long passphrase"


@pytest.fixture(params=["info", "debug"])
def logged_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """``gkchat serve`` on SQLite with its access log on, at log level info and debug."""
    env = clean_environment(
        GKCHAT_DATA_DIR=str(tmp_path / "data"),
        GKCHAT_RATE_LIMITS="off",
        GKCHAT_LOG_LEVEL=request.param,
    )
    server = ServerProcess("sqlite", env, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def use_every_auth_path(server: ServerProcess) -> list[str]:
    """Sign up, sign in, authenticate every way there is; return every secret involved."""
    secrets = [PASSWORD, WRONG_PASSWORD]
    ws_url = server.base_url.replace("http://", "ws://") + "/api/v1/ws"
    async with httpx.AsyncClient(base_url=server.api_url, timeout=30) as client:
        body = {"username": "logcheck", "email": "logcheck@example.com", "password": PASSWORD}
        registered = await client.post("/auth/register", json=body)
        assert registered.status_code == 201, registered.text
        secrets += [registered.json()["token"], registered.cookies["gkchat_csrf"]]
        wrong = await client.post(
            "/auth/login", json={"login": "logcheck", "password": WRONG_PASSWORD}
        )
        assert wrong.status_code == 401, wrong.text
        signed_in = await client.post(
            "/auth/login", json={"login": "logcheck", "password": PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        token, csrf = signed_in.json()["token"], signed_in.cookies["gkchat_csrf"]
        secrets += [token, csrf]
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/me", headers=bearer)).status_code == 200
        # The client now holds the cookies of the last sign-in: a cookie read and write.
        assert (await client.get("/me")).status_code == 200
        write = await client.post("/notifications/read-all", headers={"X-CSRF-Token": csrf})
        assert write.status_code == 204, write.text
        assert (
            await client.get("/me", headers={"Authorization": "Bearer wrong"})
        ).status_code == 401

        async with connect(ws_url, additional_headers=bearer, proxy=None) as ws:
            ready = json.loads(await ws.recv())
        cookie = {"Cookie": f"gkchat_session={token}"}
        async with connect(
            f"{ws_url}?since={ready['data']['cursor']}",
            additional_headers=cookie,
            origin=server.base_url,  # type: ignore[arg-type]
            proxy=None,
        ) as ws:
            await ws.recv()
        async with connect(ws_url, proxy=None) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            await ws.recv()
            await ws.send(json.dumps({"type": "ping"}))
            await ws.recv()

        sessions = (await client.get("/sessions", headers=bearer)).json()["sessions"]
        [first] = [s["id"] for s in sessions if not s["current"]][:1]
        assert (await client.delete(f"/sessions/{first}", headers=bearer)).status_code == 204
        assert (await client.post("/auth/logout", headers=bearer)).status_code == 204
    return secrets


async def test_no_secret_appears_in_the_servers_output(logged_server: ServerProcess) -> None:
    """Neither passwords nor session or CSRF tokens appear anywhere in the server's output."""
    secrets = await use_every_auth_path(logged_server)
    logged_server.stop()
    output = logged_server.output()

    assert "/api/v1/auth/login" in output, "the access log was not captured"
    assert "/api/v1/ws" in output, "the WebSocket access log was not captured"
    leaked = [secret[:6] + "..." for secret in secrets if secret in output]
    assert leaked == [], f"secrets in the log: {leaked}"
