"""The OpenAPI schema at /api/v1/openapi.json tells the truth about the API.

Schemathesis (tests/hostile/test_openapi_fuzz.py) holds every response to this schema; these
are the fixes it called for, one behaviour each: how to authenticate, the 400 of an unreadable
body, the 503 of /health, and an ``Allow`` header on 405 that names every method of the path.
"""

from typing import Any

import httpx
import pytest

from tests.support.api_errors import assert_error
from tests.support.server import RunningServer

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

UNAUTHENTICATED_OPERATIONS = {
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("get", "/api/v1/health"),
    ("get", "/api/v1/diagnostics"),
    ("post", "/api/v1/diagnostics/reset"),
}


async def openapi(anon: httpx.AsyncClient) -> dict[str, Any]:
    response = await anon.get("/openapi.json")
    assert response.status_code == 200, response.text
    schema: dict[str, Any] = response.json()
    return schema


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


async def test_every_signed_in_operation_declares_bearer_or_cookie_auth(
    anon: httpx.AsyncClient,
) -> None:
    """Operations that need a session say so: a Bearer token or the session cookie."""
    schema = await openapi(anon)

    for method, path, operation in operations(schema):
        expected: list[dict[str, list[str]]] | None = (
            None
            if (method, path) in UNAUTHENTICATED_OPERATIONS
            else [{"HTTPBearer": []}, {"APIKeyCookie": []}]
        )
        assert operation.get("security") == expected, (method, path)
    schemes = schema["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["HTTPBearer"]["description"],
    }
    assert schemes["APIKeyCookie"]["in"] == "cookie"
    assert schemes["APIKeyCookie"]["name"] == "gkchat_session"


async def test_every_operation_with_a_body_documents_the_400_of_an_unreadable_one(
    anon: httpx.AsyncClient,
) -> None:
    """A body that is not UTF-8 JSON text is a documented 400 in the error shape."""
    schema = await openapi(anon)
    response = await anon.post(
        "/auth/login",
        content=b'{"login": "\xc3\x28"}',
        headers={"Content-Type": "application/json"},
    )

    assert_error(response, 400)
    with_body = [(m, p, op) for m, p, op in operations(schema) if "requestBody" in op]
    assert with_body
    for method, path, operation in with_body:
        assert "400" in operation["responses"], (method, path)


async def test_health_documents_its_503(anon: httpx.AsyncClient) -> None:
    """/health says it answers 503 in the error shape when the database does not."""
    schema = await openapi(anon)

    responses = schema["paths"]["/api/v1/health"]["get"]["responses"]
    assert responses["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }


async def test_a_405_names_every_method_the_path_serves(server: RunningServer) -> None:
    """OPTIONS on /blocks is 405 with Allow: GET, POST (two routes share the path)."""
    async with httpx.AsyncClient(base_url=server.api_url) as client:
        response = await client.options("/blocks")

    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, POST"


async def test_a_405_on_a_path_with_parameters_names_its_methods(server: RunningServer) -> None:
    """PUT on /messages/{id} is 405 with Allow: PATCH, DELETE."""
    async with httpx.AsyncClient(base_url=server.api_url) as client:
        response = await client.put("/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV", json={})

    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "PATCH, DELETE"


async def test_documented_constraints_do_not_change_the_error_codes(
    anon: httpx.AsyncClient,
) -> None:
    """The schema documents a username's length, but a short one is still invalid_username."""
    schema = await openapi(anon)
    response = await anon.post(
        "/auth/register",
        json={"username": "x", "email": "x@example.com", "password": "a long passphrase"},
    )

    username = schema["components"]["schemas"]["RegisterIn"]["properties"]["username"]
    assert (username["minLength"], username["maxLength"]) == (3, 32)
    assert_error(response, 422, "invalid_username")
