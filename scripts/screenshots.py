#!/usr/bin/env python3
"""Take the README's screenshots of the web client: docs/screenshots/*.png.

Starts ``gkchat serve`` on a free loopback port with a throwaway data directory and rate
limits off, fills it through the REST API with a few people and a believable conversation,
then photographs the main screens with Debian's Chromium (/usr/bin/chromium) through
Playwright: sign-in, the chat on a desktop in light and dark, friends, notifications, the
devices in settings, and a chat on a phone.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "correct horse battery 9"  # noqa: S105 - the made-up people's password
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
ANDROID_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)

# (sender, text): Maya and Jonas plan a hike. No emoji: Chromium on a server often has no
# colour emoji font, and boxes would spoil the pictures.
CONVERSATION = [
    ("jonas", "Are we still on for Saturday?"),
    ("maya", "Yes! I checked the forecast: sunny, 18 °C all day."),
    ("jonas", "Perfect. Ridge trail or the lake loop?"),
    ("maya", "Ridge trail. The view from the top is worth the climb."),
    ("maya", "I'll bring sandwiches and the good thermos."),
    ("jonas", "Deal. I'll pick you up at 7:30.\nBring a jacket, it gets windy up there."),
    ("maya", "See you then!"),
]


@dataclass
class Account:
    id: str
    username: str
    client: httpx.Client


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def gkchat_server(data_dir: Path) -> Iterator[str]:
    """``gkchat serve`` on a free port; yields its base URL once /api/v1/health answers."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("GKCHAT_")}
    env.update(GKCHAT_DATA_DIR=str(data_dir), GKCHAT_RATE_LIMITS="off", GKCHAT_LOG_LEVEL="warning")
    log = (data_dir / "serve.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "gkchat", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=data_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gkchat serve exited: {(data_dir / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gkchat serve did not become ready within 60 s")
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    response = client.request(method, path, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


def register(api_url: str, username: str) -> Account:
    client = httpx.Client(base_url=api_url, timeout=30)
    body = call(
        client,
        "POST",
        "/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    client.headers["Authorization"] = f"Bearer {body['token']}"
    return Account(body["user"]["id"], username, client)


def befriend(asker: Account, accepter: Account) -> None:
    request = call(asker.client, "POST", "/friend-requests", json={"user_id": accepter.id})
    call(accepter.client, "POST", f"/friend-requests/{request['request']['id']}/accept")


def say(sender: Account, recipient: Account, text: str) -> dict[str, Any]:
    body = call(
        sender.client, "POST", "/messages", json={"recipient_id": recipient.id, "content": text}
    )
    message: dict[str, Any] = body["message"]
    return message


def seed(api_url: str) -> dict[str, Account]:
    """Maya (whose screens we photograph), her friends Jonas and Priya, and Leo, who has
    just asked to be her friend."""
    people = {name: register(api_url, name) for name in ["maya", "jonas", "priya", "leo", "lena"]}
    maya, jonas, priya = people["maya"], people["jonas"], people["priya"]
    befriend(jonas, maya)
    befriend(maya, priya)
    befriend(people["lena"], maya)
    say(priya, maya, "Did you see the photos from the climbing gym?")
    say(maya, priya, "Not yet, send them over!")
    say(people["lena"], maya, "Thanks for the book recommendation, I finished it in two days.")
    last_from_maya: dict[str, Any] | None = None
    for sender, text in CONVERSATION:
        if sender == "maya":
            last_from_maya = say(maya, jonas, text)
        else:
            say(jonas, maya, text)
    assert last_from_maya is not None
    call(
        jonas.client, "POST", f"/conversations/{maya.id}/read", json={"up_to": last_from_maya["id"]}
    )
    say(priya, maya, "Here they are, the bouldering wall looks amazing")
    call(people["leo"].client, "POST", "/friend-requests", json={"user_id": maya.id})
    return people


def sign_in(browser: Browser, base_url: str, username: str, **options: Any) -> Page:
    options.setdefault("viewport", DESKTOP)
    context: BrowserContext = browser.new_context(**options)
    page = context.new_page()
    page.goto(f"{base_url}/#/")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-status", "online")
    return page


def open_chat(page: Page, peer: Account) -> None:
    page.get_by_test_id("conversation-list").locator(f'[data-peer="{peer.username}"]').click()
    expect(page.get_by_test_id("chat-subtitle")).to_have_text("online")
    expect(page.get_by_test_id("message")).to_have_count(len(CONVERSATION))
    page.mouse.move(0, 0)  # no hover effects in the picture


def shoot(page: Page, out: Path, name: str) -> None:
    page.wait_for_timeout(300)  # let transitions (badges, fades) settle before the picture
    page.screenshot(path=out / f"{name}.png")
    print(f"wrote {out / name}.png")  # noqa: T201 - a command-line script


def take_screenshots(base_url: str, people: dict[str, Account], out: Path) -> None:
    maya, jonas = people["maya"], people["jonas"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            signin = browser.new_context(viewport=DESKTOP).new_page()
            signin.goto(f"{base_url}/#/")
            expect(signin.get_by_test_id("auth-form")).to_be_visible()
            shoot(signin, out, "sign-in")

            # Jonas stays signed in so that Maya sees him online.
            sign_in(browser, base_url, jonas.username)
            sign_in(browser, base_url, maya.username, user_agent=ANDROID_AGENT, viewport=PHONE)

            for scheme in ["light", "dark"]:
                page = sign_in(browser, base_url, maya.username, color_scheme=scheme)
                open_chat(page, jonas)
                shoot(page, out, f"chat-{scheme}")
                if scheme == "dark":
                    continue
                page.get_by_test_id("tab-friends").click()
                expect(page.get_by_test_id("incoming-request")).to_have_count(1)
                shoot(page, out, "friends")
                page.get_by_test_id("tab-chats").click()
                page.get_by_test_id("bell").click()
                expect(page.get_by_test_id("notification")).not_to_have_count(0)
                shoot(page, out, "notifications")
                page.keyboard.press("Escape")
                page.get_by_test_id("settings-link").click()
                expect(page.get_by_test_id("session")).to_have_count(3)
                shoot(page, out, "settings-devices")

            phone = sign_in(
                browser, base_url, maya.username, viewport=PHONE, user_agent=ANDROID_AGENT
            )
            shoot(phone, out, "phone-chats")
            open_chat(phone, jonas)
            shoot(phone, out, "phone-chat")
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="gkchat-screens-") as data,
        gkchat_server(Path(data)) as base_url,
    ):
        people = seed(f"{base_url}/api/v1")
        try:
            take_screenshots(base_url, people, out)
        finally:
            for account in people.values():
                account.client.close()


if __name__ == "__main__":
    main()
