"""Browser tests: a restartable server, Chromium through Playwright, and a page object.

``LiveServer`` runs the app in the running event loop like :mod:`tests.support.server`, but on
a port it keeps, so a test can stop it and start it again (a fresh process image: new hub, new
connections) while the browser's socket reconnects to the same address. ``LiveClock`` follows
real time, so what the page shows ("just now", "Today") looks as it does for people, and can be
shifted to make messages from earlier days.

``ChatPage`` wraps one Playwright page of the web client with the steps a person takes (sign
up, add a friend, open a chat, send), so that tests read like specifications. Locators come
from the client's ``data-testid`` attributes and accessible names.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from playwright.async_api import (
    Browser,
    BrowserContext,
    Dialog,
    Locator,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from gkchat.app import create_app
from gkchat.config import Settings
from tests.support.clock import FakeClock
from tests.support.factories import SignedInUser, UserFactory, befriend, unique_username
from tests.support.server import RunningServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_MISSING = f"Chromium not found at {CHROMIUM}: apt-get install -y chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "correct horse battery 9"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 800}


class LiveClock(FakeClock):
    """Real time plus an offset that tests move (``advance``) to write the past or future."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        super().__init__()
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> None:
        self.offset += delta if delta is not None else timedelta(**kwargs)

    @asynccontextmanager
    async def shifted(self, delta: timedelta) -> AsyncIterator[None]:
        """Within the block, "now" is ``delta`` away from real time."""
        self.offset += delta
        try:
            yield
        finally:
            self.offset -= delta


class LiveServer:
    """The app on a fixed loopback port, stoppable and startable again on the same database."""

    def __init__(self, settings: Settings, clock: FakeClock) -> None:
        self.settings = settings
        self.clock = clock
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._running: RunningServer | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1"

    @property
    def running(self) -> RunningServer:
        """The current server, for helpers that look inside it (e.g. its connections)."""
        assert self._running is not None, "the server is stopped"
        return self._running

    async def start(self) -> None:
        assert self._server is None, "already running"
        app = create_app(self.settings, clock=self.clock)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            proxy_headers=False,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                sock.close()
                task.result()
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.01)
        self._server, self._task, self._socket = server, task, sock
        self._running = RunningServer(app, self.settings, self.clock, self.base_url)

    async def stop(self) -> None:
        """Stop serving; open WebSockets are closed and the port refuses connections."""
        server, task, sock = self._server, self._task, self._socket
        self._server = self._task = self._socket = None
        self._running = None
        if server is None or task is None or sock is None:
            return
        server.should_exit = True
        await task
        sock.close()


class ChatPage:
    """One tab of the web client, driven the way a person would."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    # Locators

    def by_id(self, test_id: str) -> Locator:
        return self.page.get_by_test_id(test_id)

    @property
    def auth_form(self) -> Locator:
        return self.by_id("auth-form")

    @property
    def me(self) -> Locator:
        return self.by_id("me-username")

    @property
    def status(self) -> Locator:
        return self.by_id("connection-status")

    @property
    def chat(self) -> Locator:
        return self.by_id("chat")

    @property
    def chat_subtitle(self) -> Locator:
        return self.by_id("chat-subtitle")

    @property
    def composer(self) -> Locator:
        return self.by_id("composer")

    @property
    def messages(self) -> Locator:
        """Every message bubble of the open chat, oldest first."""
        return self.by_id("messages").get_by_test_id("message")

    @property
    def message_texts(self) -> Locator:
        return self.by_id("messages").get_by_test_id("message-text")

    def message(self, text: str) -> Locator:
        """The bubble whose text is exactly ``text``."""
        return self.messages.filter(
            has=self.page.get_by_test_id("message-text").get_by_text(text, exact=True)
        )

    def conversation(self, username: str) -> Locator:
        return self.by_id("conversation-list").locator(f'[data-peer="{username}"]')

    def unread_badge(self, username: str) -> Locator:
        return self.conversation(username).get_by_test_id("unread-badge")

    def person(self, test_id: str, username: str) -> Locator:
        """A row (``friend``, ``incoming-request``, ``search-result``...) for ``username``."""
        return self.page.locator(f'[data-testid="{test_id}"][data-username="{username}"]')

    # Signing in and out

    async def goto(self, route: str = "#/") -> None:
        await self.page.goto(f"{self.base_url}/{route}")

    async def signup(self, username: str, password: str = PASSWORD) -> None:
        """Create an account from the sign-in screen and land in the messenger."""
        await self.goto()
        await self.page.get_by_role("button", name="Create an account").click()
        await self.page.get_by_label("Username", exact=True).fill(username)
        await self.page.get_by_label("Email").fill(f"{username}@example.com")
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Create account").click()
        await self.expect_signed_in(username)

    async def login(self, login: str, password: str = PASSWORD) -> None:
        """Sign in from the sign-in screen and land in the messenger."""
        await self.goto()
        await self.fill_login(login, password)
        await self.expect_signed_in(login)

    async def fill_login(self, login: str, password: str) -> None:
        await self.page.get_by_label("Username or email").fill(login)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()

    async def expect_signed_in(self, username: str) -> None:
        await expect(self.me).to_have_text(username)
        await self.expect_online()

    async def expect_online(self) -> None:
        await expect(self.status).to_have_attribute("data-status", "online", timeout=15_000)

    async def open_settings(self) -> None:
        await self.by_id("settings-link").click()
        await expect(self.by_id("settings")).to_be_visible()

    # Friends

    async def open_friends(self) -> None:
        await self.by_id("tab-friends").click()
        await expect(self.by_id("user-search")).to_be_visible()

    async def search(self, name: str) -> Locator:
        """Search people by name; the result row of exactly ``name``."""
        await self.by_id("user-search").fill(name)
        result = self.person("search-result", name)
        await expect(result).to_be_visible()
        return result

    async def add_friend(self, name: str) -> None:
        await self.open_friends()
        result = await self.search(name)
        await result.get_by_test_id("add-friend").click()
        await expect(self.person("outgoing-request", name)).to_be_visible()

    async def accept_request(self, name: str) -> None:
        await self.open_friends()
        await self.person("incoming-request", name).get_by_test_id("accept-request").click()
        await expect(self.person("friend", name)).to_be_visible()

    async def friend_menu(self, name: str, action: str) -> None:
        """Choose ``action`` (``unfriend``, ``block``) in a friend's menu and confirm it."""
        await self.open_friends()
        friend = self.person("friend", name)
        await friend.get_by_test_id("friend-menu").click()
        await friend.get_by_test_id(action).click()
        await self.confirm()

    async def confirm(self) -> None:
        dialog = self.by_id("dialog")
        await dialog.get_by_test_id("confirm").click()
        await expect(dialog).to_have_count(0)

    # Chats

    async def open_chats(self) -> None:
        await self.by_id("tab-chats").click()
        await expect(self.by_id("conversation-list")).to_be_attached()

    async def open_chat(self, name: str) -> None:
        """Open the conversation with ``name`` from the chat list."""
        await self.open_chats()
        await self.conversation(name).click()
        await expect(self.by_id("chat-name")).to_have_text(name)
        await self.expect_history_loaded()

    async def message_friend(self, name: str) -> None:
        """Open the chat with a friend from the friends list."""
        await self.open_friends()
        await self.person("friend", name).get_by_test_id("message-friend").click()
        await expect(self.by_id("chat-name")).to_have_text(name)
        await self.expect_history_loaded()
        await expect(self.composer).to_be_editable()

    async def open_chat_with(self, user: SignedInUser) -> None:
        """Follow a link to the chat with ``user`` (``#/chat/<id>``)."""
        await self.page.evaluate(
            "id => { location.hash = `#/chat/${encodeURIComponent(id)}`; }", user.id
        )
        await expect(self.by_id("chat-name")).to_have_text(user.username)
        await self.expect_history_loaded()

    async def expect_history_loaded(self) -> None:
        """Wait until the open chat has its latest page of history (no "Loading…")."""
        await expect(self.by_id("history-top")).not_to_have_text("Loading…")

    async def send(self, text: str) -> None:
        """Type a message in the open chat and press Enter; wait until it is shown."""
        await self.composer.fill(text)
        await self.composer.press("Enter")
        await expect(self.composer).to_have_value("")

    async def texts(self) -> list[str]:
        """The text of every (not deleted) message in the open chat, oldest first."""
        return await self.message_texts.all_inner_texts()

    async def expect_texts(self, expected: list[str], timeout: float = 5000) -> None:
        await expect(self.message_texts).to_have_text(expected, timeout=timeout)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, through Playwright (never a downloaded browser)."""
    playwright = await async_playwright().start()
    try:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()
    finally:
        await playwright.stop()


@dataclass
class Browsers:
    """Pages for one test, each in a context of its own unless told otherwise (a context is a
    separate cookie jar: another person or device), with every uncaught page error and
    JavaScript dialog recorded."""

    browser: Browser
    base_url: str
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    async def new_context(self, **options: Any) -> BrowserContext:
        options.setdefault("viewport", DESKTOP)
        context = await self.browser.new_context(**options)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        return context

    async def new_page(self, context: BrowserContext | None = None, **options: Any) -> ChatPage:
        """A new tab; in a new context (a new person or device) unless one is given."""
        context = context or await self.new_context(**options)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.on("dialog", self._dialog)
        return ChatPage(page, self.base_url)

    async def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()

    async def signed_up(self, username: str, **options: Any) -> ChatPage:
        page = await self.new_page(**options)
        await page.signup(username)
        return page

    async def signed_in(self, user: SignedInUser, **options: Any) -> ChatPage:
        page = await self.new_page(**options)
        await page.login(user.username, user.password)
        return page

    async def in_chat(self, me: SignedInUser, peer: SignedInUser) -> ChatPage:
        """``me`` signed in, with the chat with ``peer`` open and its history loaded."""
        page = await self.signed_in(me)
        await page.open_chat_with(peer)
        return page

    async def chatting(self, alice: SignedInUser, bob: SignedInUser) -> tuple[ChatPage, ChatPage]:
        """Both signed in, each in the chat with the other."""
        return await self.in_chat(alice, bob), await self.in_chat(bob, alice)

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


async def two_friends(users: UserFactory) -> tuple[SignedInUser, SignedInUser]:
    """Two new accounts (alice…, bob…) who are friends, made through the API."""
    alice = await users.register(unique_username("alice"), password=PASSWORD)
    bob = await users.register(unique_username("bob"), password=PASSWORD)
    await befriend(alice, bob)
    return alice, bob
