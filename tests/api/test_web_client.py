"""The browser client is served at / and under /assets with headers that keep it safe."""

import re

import httpx
import pytest

from tests.support.api_errors import assert_error
from tests.support.server import RunningServer

# Static files do not depend on the database: SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def get(server: RunningServer, path: str, method: str = "GET") -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        return await client.request(method, path)


async def test_the_root_serves_the_client_page(server: RunningServer) -> None:
    """GET / is the client's HTML page, which loads its module script from /assets."""
    response = await get(server, "/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/assets/js/main.js">' in response.text


async def test_the_page_forbids_inline_and_foreign_script(server: RunningServer) -> None:
    """The CSP allows scripts, styles and connections from this origin only, and no framing."""
    policy = (await get(server, "/")).headers["content-security-policy"]

    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy


async def test_the_page_has_no_inline_script_or_style(server: RunningServer) -> None:
    """Everything the page runs or styles comes from files, as the CSP demands."""
    page = (await get(server, "/")).text

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert "<style" not in page
    assert " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)


async def test_assets_are_served_with_the_same_headers(server: RunningServer) -> None:
    """Scripts and styles carry the CSP, nosniff and no-referrer too."""
    for path, kind in (("/assets/js/main.js", "javascript"), ("/assets/app.css", "text/css")):
        response = await get(server, path)
        assert response.status_code == 200, path
        assert kind in response.headers["content-type"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "content-security-policy" in response.headers


async def test_every_module_the_client_imports_exists(server: RunningServer) -> None:
    """Following the import statements from main.js reaches only files that are served."""
    seen: set[str] = set()
    pending = ["/assets/js/main.js"]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        response = await get(server, path)
        assert response.status_code == 200, f"{path} is imported but not served"
        base = path.rsplit("/", 1)[0]
        for target in re.findall(r'^import [^;]*?from "(\.{1,2}/[^"]+)";', response.text, re.M):
            parts = (base + "/" + target).split("/")
            resolved: list[str] = []
            for part in parts:
                if part == "..":
                    resolved.pop()
                elif part != ".":
                    resolved.append(part)
            pending.append("/".join(resolved))
    assert len(seen) > 5


async def test_head_of_the_root_answers(server: RunningServer) -> None:
    """HEAD / answers 200 (health checks and link previews use it)."""
    response = await get(server, "/", method="HEAD")

    assert response.status_code == 200


async def test_a_missing_asset_is_a_404_in_the_error_shape(server: RunningServer) -> None:
    """An unknown file under /assets is 404 with the contract's error body."""
    assert_error(await get(server, "/assets/nope.js"), 404)


async def test_assets_cannot_escape_their_folder(server: RunningServer) -> None:
    """Dot-dot paths never reach files outside the client's folder."""
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        for path in ("/assets/../app.py", "/assets/%2e%2e/app.py", "/assets/..%2fapp.py"):
            response = await client.get(path)
            assert response.status_code == 404, path
