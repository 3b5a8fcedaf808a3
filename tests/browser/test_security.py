"""What other people type is text, never markup or script; the CSP forbids inline script."""

import httpx
from playwright.async_api import expect

from tests.support.browser import Browsers, LiveServer, two_friends
from tests.support.factories import UserFactory, registration, unique_username
from tests.support.messaging import send

PAYLOADS = [
    "<img src=x onerror=\"window.__xss = 'img'; alert('img')\">",
    "<script>window.__xss = 'script'; alert('script')</script>",
    '<a href="javascript:alert(1)">click me</a>',
    "javascript:alert(document.cookie)",
    "<svg onload=alert('svg')><b>bold?</b></svg>",
    '"><iframe src="javascript:alert(1)"></iframe>',
    "<style>body { display: none }</style>&lt;escaped&gt; &amp; ${'template'}",
]


async def test_markup_in_messages_renders_as_literal_text(
    users: UserFactory, browsers: Browsers
) -> None:
    """Messages full of HTML and script show exactly as typed; nothing runs or is injected."""
    alice, bob = await two_friends(users)
    for payload in PAYLOADS:
        await send(alice, bob, payload)
    page = await browsers.signed_in(bob)
    await expect(page.by_id("conversation-preview")).to_have_text(PAYLOADS[-1])

    await page.open_chat(alice.username)
    await page.by_id("bell").click()

    assert await page.texts() == PAYLOADS
    messages = page.by_id("messages")
    for tag in ["img", "script", "a", "svg", "iframe", "style", "b"]:
        await expect(messages.locator(tag)).to_have_count(0)
    await expect(page.page.locator("iframe")).to_have_count(0)
    await expect(page.page.locator("script:not([src])")).to_have_count(0)
    await expect(page.by_id("notification-list").locator("img")).to_have_count(0)
    await expect(page.page.locator("body")).to_be_visible()
    assert await page.page.evaluate("window.__xss") is None
    assert browsers.dialogs == []


async def test_markup_in_a_username_is_refused(live_server: LiveServer, browsers: Browsers) -> None:
    """A username with markup cannot be registered, in the form or through the API."""
    page = await browsers.new_page()
    await page.goto()
    await page.page.get_by_role("button", name="Create an account").click()
    await page.page.get_by_label("Username", exact=True).fill("<img src=x onerror=alert(1)>")
    await page.page.get_by_label("Email").fill("mallory@example.com")
    await page.page.get_by_label("Password").fill("correct horse battery 9")
    await page.page.get_by_role("button", name="Create account").click()

    await expect(page.auth_form).to_be_visible()
    await expect(page.auth_form.locator("img:not(.brand-logo)")).to_have_count(0)
    username = page.page.get_by_label("Username", exact=True)
    assert await username.evaluate("input => !input.checkValidity()")
    async with httpx.AsyncClient(base_url=live_server.api_url) as client:
        body = registration(unique_username("mallory"))
        body["username"] = "<script>x</script>"
        response = await client.post("/auth/register", json=body)
    assert response.status_code == 422, response.text


async def test_page_is_served_with_a_csp_that_forbids_inline_script(
    live_server: LiveServer,
) -> None:
    """The page's Content-Security-Policy allows scripts from this origin only."""
    async with httpx.AsyncClient(base_url=live_server.base_url) as client:
        response = await client.get("/")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    directives = {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }
    assert directives["script-src"] == ["'self'"], policy
    assert "unsafe-inline" not in policy, policy
    assert "unsafe-eval" not in policy, policy
    assert directives["default-src"] == ["'none'"], policy
    assert directives["frame-ancestors"] == ["'none'"], policy


async def test_csp_blocks_inline_script_injected_into_the_page(browsers: Browsers) -> None:
    """An inline <script> or event-handler attribute put into the DOM does not run."""
    page = await browsers.new_page()
    await page.goto()
    await expect(page.auth_form).to_be_visible()

    result = await page.page.evaluate(
        """() => new Promise((resolve) => {
            const violations = [];
            document.addEventListener("securitypolicyviolation", (event) => {
                violations.push(event.effectiveDirective);
                if (violations.length === 2) resolve(violations);
            });
            const script = document.createElement("script");
            script.textContent = "window.__inline = 'ran'";
            document.body.append(script);
            const holder = document.createElement("div");
            holder.innerHTML = '<img src="data:," onerror="window.__handler = \\'ran\\'">';
            document.body.append(holder);
        })"""
    )

    assert sorted(result) == ["script-src-attr", "script-src-elem"], result
    assert await page.page.evaluate("[window.__inline, window.__handler]") == [None, None]
