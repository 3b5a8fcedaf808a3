"""The bell: unread count, the list, reading one (and going where it points), reading all."""

import asyncio

from playwright.async_api import expect

from tests.support.browser import PASSWORD, Browsers, ChatPage, two_friends
from tests.support.factories import SignedInUser, UserFactory, send_friend_request, unique_username
from tests.support.messaging import send


async def expect_unread_on_server(user: SignedInUser, expected: int, timeout: float = 5) -> None:
    """Wait until the server's unread count is `expected`: the client marks notifications read
    on screen first and tells the server in the background."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await user.client.get("/notifications")
        assert response.status_code == 200, response.text
        count = response.json()["unread_count"]
        if count == expected or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert count == expected


async def open_bell(page: ChatPage) -> None:
    await page.by_id("bell").click()
    await expect(page.by_id("notification-panel")).to_be_visible()


async def bob_with_news(
    users: UserFactory, browsers: Browsers
) -> tuple[SignedInUser, SignedInUser, SignedInUser, ChatPage]:
    """Bob, with two messages from his friend Alice (one collapsed notification) and a friend
    request from Carol, both unread; and his page, signed in."""
    alice, bob = await two_friends(users)
    carol = await users.register(unique_username("carol"), password=PASSWORD)
    await send(alice, bob, "are you there?")
    await send(alice, bob, "call me")
    await send_friend_request(carol, bob)
    return alice, bob, carol, await browsers.signed_in(bob)


async def test_bell_counts_unread_and_lists_them(users: UserFactory, browsers: Browsers) -> None:
    """The badge shows the unread count; the panel lists newest first, unread ones marked."""
    alice, _bob, carol, page = await bob_with_news(users, browsers)
    await expect(page.by_id("notification-badge")).to_have_text("2")
    await expect(page.by_id("bell")).to_have_attribute("aria-label", "Notifications, 2 unread")

    await open_bell(page)

    items = page.by_id("notification")
    await expect(items).to_have_count(3)  # and Alice's request, read when Bob accepted it
    await expect(items.nth(0)).to_contain_text(f"{carol.username} sent you a friend request")
    await expect(items.nth(1)).to_contain_text(f"{alice.username} sent you 2 messages")
    await expect(items.nth(2)).to_contain_text(f"{alice.username} sent you a friend request")
    unread = [await item.get_attribute("data-unread") for item in await items.all()]
    assert unread == ["true", "true", "false"]


async def test_clicking_a_message_notification_reads_it_and_opens_the_chat(
    users: UserFactory, browsers: Browsers
) -> None:
    """A message notification, clicked, is read (badge drops) and opens that chat."""
    alice, bob, _carol, page = await bob_with_news(users, browsers)
    await open_bell(page)

    await page.by_id("notification").filter(has_text="sent you 2 messages").click()

    await expect(page.by_id("notification-panel")).to_be_hidden()
    await expect(page.by_id("chat-name")).to_have_text(alice.username)
    await page.expect_texts(["are you there?", "call me"])
    await expect(page.by_id("notification-badge")).to_have_text("1")
    await expect_unread_on_server(bob, 1)
    await open_bell(page)
    message = page.by_id("notification").filter(has_text="sent you 2 messages")
    await expect(message).to_have_attribute("data-unread", "false")


async def test_clicking_a_friend_request_notification_opens_friends(
    users: UserFactory, browsers: Browsers
) -> None:
    """A friend request notification opens the friends panel with the request to answer."""
    _alice, _bob, carol, page = await bob_with_news(users, browsers)
    await open_bell(page)

    await page.by_id("notification").filter(has_text="friend request").first.click()

    await expect(page.person("incoming-request", carol.username)).to_be_visible()
    await expect(page.by_id("notification-badge")).to_have_text("1")


async def test_mark_all_read(users: UserFactory, browsers: Browsers) -> None:
    """Mark all read clears the badge and every unread mark, on the server too."""
    _alice, bob, _carol, page = await bob_with_news(users, browsers)
    await open_bell(page)

    await page.by_id("read-all").click()

    await expect(page.by_id("notification-badge")).to_be_hidden()
    unread = page.page.locator('[data-testid="notification"][data-unread="true"]')
    await expect(unread).to_have_count(0)
    await expect(page.by_id("notification")).to_have_count(3)
    await expect_unread_on_server(bob, 0)
    await page.page.reload()
    await expect(page.me).to_have_text(bob.username)
    await expect(page.by_id("notification-badge")).to_be_hidden()


async def test_new_notification_raises_the_count_live(
    users: UserFactory, browsers: Browsers
) -> None:
    """A notification created while the page is open shows in the badge without a reload."""
    alice, bob = await two_friends(users)
    page = await browsers.signed_in(bob)
    await expect(page.by_id("notification-badge")).to_be_hidden()

    await send(alice, bob, "ping")

    await expect(page.by_id("notification-badge")).to_have_text("1")
    await open_bell(page)
    await expect(page.by_id("notification").first).to_contain_text(
        f"{alice.username} sent you a message"
    )


async def test_accepting_a_request_clears_its_notification(
    users: UserFactory, browsers: Browsers
) -> None:
    """Accepting a request in the friends panel also clears its notification from the bell."""
    alice = await users.register(unique_username("alice"), password=PASSWORD)
    bob = await users.register(unique_username("bob"), password=PASSWORD)
    await send_friend_request(alice, bob)
    page = await browsers.signed_in(bob)
    await expect(page.by_id("notification-badge")).to_have_text("1")

    await page.accept_request(alice.username)

    await expect(page.by_id("notification-badge")).to_be_hidden()
    await expect_unread_on_server(bob, 0)


async def test_reading_the_chat_clears_its_message_notification(
    users: UserFactory, browsers: Browsers
) -> None:
    """Opening a chat from the list also reads its message notification, and the bell clears."""
    alice, bob = await two_friends(users)
    await send(alice, bob, "hi")
    page = await browsers.signed_in(bob)
    await expect(page.by_id("notification-badge")).to_have_text("1")

    await page.open_chat(alice.username)

    await expect(page.by_id("notification-badge")).to_be_hidden()
    await expect_unread_on_server(bob, 0)


async def test_accepted_request_notification_opens_the_chat(
    users: UserFactory, browsers: Browsers
) -> None:
    """The requester is told their request was accepted; clicking that opens the chat."""
    alice, bob = await two_friends(users)  # Alice asked, Bob accepted
    page = await browsers.signed_in(alice)
    await expect(page.by_id("notification-badge")).to_have_text("1")
    await open_bell(page)

    notification = page.by_id("notification").filter(
        has_text=f"{bob.username} accepted your friend request"
    )
    await expect(notification).to_have_attribute("data-type", "friend_accepted")
    await notification.click()

    await expect(page.by_id("chat-name")).to_have_text(bob.username)
    await expect(page.composer).to_be_editable()
    await expect(page.by_id("notification-badge")).to_be_hidden()
