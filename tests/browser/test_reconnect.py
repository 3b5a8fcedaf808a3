"""Losing the connection and getting it back: nothing missed, nothing twice; failed sends
that are retried arrive exactly once."""

import json
import re

from playwright.async_api import WebSocketRoute, expect

from tests.support.browser import Browsers, LiveServer, two_friends
from tests.support.factories import UserFactory, befriend
from tests.support.messaging import full_history, send

OFFLINE_STATES = re.compile(r"^(offline|connecting)$")


async def test_peer_offline_gets_everything_once_in_order_when_back(
    users: UserFactory, browsers: Browsers
) -> None:
    """Bob's browser goes offline; Alice sends three; back online, Bob has each once, in order."""
    alice, bob = await two_friends(users)
    alice_page = await browsers.signed_in(alice)
    bob_page = await browsers.signed_in(bob)
    await alice_page.open_chat_with(bob)
    await alice_page.send("before")
    await expect(bob_page.unread_badge(alice.username)).to_have_text("1")

    await bob_page.page.context.set_offline(True)
    await expect(bob_page.status).to_have_attribute("data-status", "offline")
    await expect(bob_page.status).to_be_visible()
    for text in ["while away 1", "while away 2", "while away 3"]:
        await alice_page.send(text)
    await expect(alice_page.message("while away 3")).to_have_attribute("data-status", "sent")
    await bob_page.page.context.set_offline(False)

    await bob_page.expect_online()
    await expect(bob_page.status).to_be_hidden()
    await expect(bob_page.unread_badge(alice.username)).to_have_text("4")
    await expect(bob_page.by_id("conversation-preview")).to_have_text("while away 3")
    await bob_page.open_chat(alice.username)
    await bob_page.expect_texts(["before", "while away 1", "while away 2", "while away 3"])
    await expect(alice_page.message("while away 3")).to_have_attribute("data-status", "read")


async def test_closed_tab_catches_up_when_opened_again(
    users: UserFactory, browsers: Browsers
) -> None:
    """Bob closes his tab; what Alice sends meanwhile is there, once, when he opens a new one."""
    alice, bob = await two_friends(users)
    bob_page = await browsers.signed_in(bob)
    context = bob_page.page.context
    await bob_page.page.close()
    for n in range(1, 4):
        await send(alice, bob, f"message {n}")

    reopened = await browsers.new_page(context)
    await reopened.goto()

    await expect(reopened.me).to_have_text(bob.username)
    await expect(reopened.unread_badge(alice.username)).to_have_text("3")
    await reopened.open_chat(alice.username)
    await reopened.expect_texts(["message 1", "message 2", "message 3"])


async def test_socket_reconnects_by_itself_after_a_server_restart(
    live_server: LiveServer, users: UserFactory, browsers: Browsers
) -> None:
    """The server goes down and comes back on the same port: the page says so, reconnects,
    and shows what was sent around the restart exactly once."""
    alice, bob = await two_friends(users)
    page = await browsers.signed_in(bob)
    await page.open_chat_with(alice)
    await send(alice, bob, "before the restart")
    await page.expect_texts(["before the restart"])

    await live_server.stop()
    await expect(page.status).to_have_attribute("data-status", OFFLINE_STATES)
    await expect(page.status).to_have_text(re.compile(r"^(Offline: reconnecting…|Connecting…)$"))
    await live_server.start()
    for n in range(1, 4):
        await send(alice, bob, f"after the restart {n}")

    await page.expect_online()
    await expect(page.status).to_be_hidden()
    expected = ["before the restart", *(f"after the restart {n}" for n in range(1, 4))]
    await page.expect_texts(expected, timeout=15_000)
    await send(alice, bob, "live again")
    await page.expect_texts([*expected, "live again"])


async def test_message_written_while_the_server_is_down_is_sent_once_when_back(
    live_server: LiveServer, users: UserFactory, browsers: Browsers
) -> None:
    """A message typed while disconnected waits as "sending" and is delivered once on reconnect."""
    alice, bob = await two_friends(users)
    page = await browsers.signed_in(alice)
    await page.open_chat_with(bob)

    await live_server.stop()
    await expect(page.status).to_have_attribute("data-status", OFFLINE_STATES)
    await page.send("written offline")
    pending = page.message("written offline")
    await expect(pending).to_have_attribute("data-status", "sending")
    await live_server.start()

    await page.expect_online()
    await expect(pending).to_have_attribute("data-status", "sent", timeout=15_000)
    client_id = await pending.get_attribute("data-client-id")
    history = await full_history(bob, alice.id)
    assert [(m["content"], m["client_id"]) for m in history] == [("written offline", client_id)]
    await page.expect_texts(["written offline"])


async def test_send_refused_by_the_server_fails_and_retry_delivers_once(
    users: UserFactory, browsers: Browsers
) -> None:
    """A send the server refuses (Bob blocked Alice) shows "failed" with Retry; once they are
    friends again, Retry delivers it exactly once, under the same client_id."""
    alice, bob = await two_friends(users)
    page = await browsers.signed_in(alice)
    await page.open_chat_with(bob)
    response = await bob.client.post("/blocks", json={"user_id": alice.id})
    assert response.status_code == 204, response.text

    await page.send("did you block me?")

    bubble = page.message("did you block me?")
    await expect(bubble).to_have_attribute("data-status", "failed")
    await expect(bubble.get_by_role("alert")).to_be_visible()
    client_id = await bubble.get_attribute("data-client-id")
    assert client_id

    response = await bob.client.delete(f"/blocks/{alice.id}")
    assert response.status_code == 204, response.text
    await befriend(bob, alice)
    await bubble.get_by_test_id("retry-message").click()

    await expect(bubble).to_have_attribute("data-status", "sent")
    await expect(bubble.get_by_test_id("retry-message")).to_have_count(0)
    await page.expect_texts(["did you block me?"])
    history = await full_history(bob, alice.id)
    assert [(m["content"], m["client_id"]) for m in history] == [("did you block me?", client_id)]


async def test_unacknowledged_send_fails_and_retry_does_not_duplicate(
    users: UserFactory, browsers: Browsers
) -> None:
    """The server stores a message but its answer is lost: after 10 s the bubble says "failed";
    Retry gets the same message back (same client_id), so it is stored and shown once."""
    alice, bob = await two_friends(users)
    page = await browsers.new_page()
    lost: list[str] = []
    losing = True

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if losing and isinstance(message, str):
                frame_type = json.loads(message).get("type")
                if frame_type in {"message.ack", "message.created"}:
                    lost.append(message)
                    return
            ws.send(message)

        server.on_message(from_server)

    await page.page.route_web_socket("**/api/v1/ws*", route)
    await page.login(alice.username, alice.password)
    await page.open_chat_with(bob)

    await page.send("is this thing on?")
    bubble = page.message("is this thing on?")
    await expect(bubble).to_have_attribute("data-status", "sending")
    await expect(bubble).to_have_attribute("data-status", "failed", timeout=15_000)
    assert len(lost) == 2, lost
    assert len(await full_history(bob, alice.id)) == 1

    losing = False
    await bubble.get_by_test_id("retry-message").click()

    await expect(bubble).to_have_attribute("data-status", "sent")
    await page.expect_texts(["is this thing on?"])
    history = await full_history(bob, alice.id)
    client_id = await bubble.get_attribute("data-client-id")
    assert [(m["content"], m["client_id"]) for m in history] == [("is this thing on?", client_id)]
