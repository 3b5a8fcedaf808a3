"""What a chat shows live: typing, ticks and unread counts, edits and deletes."""

from playwright.async_api import Route, expect

from tests.support.browser import PASSWORD, Browsers, two_friends
from tests.support.factories import UserFactory, befriend, unique_username
from tests.support.messaging import (
    conversation_with,
    full_history,
    mark_delivered,
    mark_read,
    send,
)


async def test_typing_shows_for_the_peer_until_the_message_lands(
    users: UserFactory, browsers: Browsers
) -> None:
    """While Alice types, Bob sees "typing…"; it goes as soon as her message arrives."""
    alice, bob = await two_friends(users)
    await send(alice, bob, "Hi")
    alice_page, bob_page = await browsers.chatting(alice, bob)
    await expect(bob_page.chat_subtitle).to_have_text("online")

    await alice_page.composer.press_sequentially("Are you coming tonig")

    await expect(bob_page.chat_subtitle).to_have_text("typing…")
    await expect(bob_page.conversation(alice.username)).to_contain_text("typing…")

    await alice_page.composer.press_sequentially("ht?")
    await alice_page.composer.press("Enter")

    await expect(bob_page.message("Are you coming tonight?")).to_be_visible()
    # The indicator would also time out after 4 s; it must go at once.
    await expect(bob_page.chat_subtitle).to_have_text("online", timeout=1000)
    await expect(bob_page.conversation(alice.username)).not_to_contain_text("typing…")


async def test_ticks_go_sent_delivered_read(users: UserFactory, browsers: Browsers) -> None:
    """Own messages show sent, then delivered once the peer's device has them, then read."""
    alice, bob = await two_friends(users)
    alice_page = await browsers.signed_in(alice)
    await alice_page.open_chat_with(bob)

    await alice_page.send("first")
    first = alice_page.message("first")
    await expect(first).to_have_attribute("data-status", "sent")
    await expect(first.get_by_test_id("receipt")).to_have_attribute("data-receipt", "sent")

    bob_page = await browsers.signed_in(bob)  # Bob's device is up, his chat list open
    await alice_page.send("second")
    second = alice_page.message("second")
    await expect(second).to_have_attribute("data-status", "delivered")
    await expect(first).to_have_attribute("data-status", "delivered")

    await bob_page.open_chat(alice.username)
    await expect(first).to_have_attribute("data-status", "read")
    await expect(second).to_have_attribute("data-status", "read")
    await expect(second.get_by_test_id("receipt")).to_have_attribute("data-receipt", "read")


async def test_unread_badge_counts_and_clears_when_opened(
    users: UserFactory, browsers: Browsers
) -> None:
    """The chat list counts unread messages per conversation, live, and opening clears it."""
    alice, bob = await two_friends(users)
    alice_page = await browsers.signed_in(alice)
    bob_page = await browsers.signed_in(bob)
    await alice_page.open_chat_with(bob)

    await alice_page.send("one")
    await expect(bob_page.unread_badge(alice.username)).to_have_text("1")
    await alice_page.send("two")
    await alice_page.send("three")
    await expect(bob_page.unread_badge(alice.username)).to_have_text("3")
    await expect(bob_page.by_id("conversation-preview")).to_have_text("three")

    await bob_page.open_chat(alice.username)
    await expect(bob_page.unread_badge(alice.username)).to_have_count(0)
    await bob_page.page.reload()
    await expect(bob_page.conversation(alice.username)).to_be_visible()
    await expect(bob_page.unread_badge(alice.username)).to_have_count(0)


async def test_messages_arriving_in_the_open_chat_do_not_count_as_unread(
    users: UserFactory, browsers: Browsers
) -> None:
    """A message that lands in the chat being read is read: no badge, and "read" for Alice."""
    alice, bob = await two_friends(users)
    alice_page, bob_page = await browsers.chatting(alice, bob)

    await alice_page.send("you are reading this")

    await expect(bob_page.message("you are reading this")).to_be_visible()
    await expect(alice_page.message("you are reading this")).to_have_attribute(
        "data-status", "read"
    )
    await expect(bob_page.conversation(alice.username)).to_be_visible()
    await expect(bob_page.unread_badge(alice.username)).to_have_count(0)


async def test_edit_shows_live_for_the_peer(users: UserFactory, browsers: Browsers) -> None:
    """Editing an own message changes it for the peer, marked "edited", without a reload."""
    alice, bob = await two_friends(users)
    alice_page, bob_page = await browsers.chatting(alice, bob)
    await alice_page.send("Lunch at noon?")
    await expect(bob_page.message("Lunch at noon?")).to_be_visible()

    mine = alice_page.message("Lunch at noon?")
    await expect(mine).to_have_attribute("data-status", "read")  # its last re-render
    await mine.hover()
    await mine.get_by_test_id("edit-message").click()
    await expect(alice_page.composer).to_have_value("Lunch at noon?")
    await alice_page.composer.fill("Lunch at one?")
    await alice_page.composer.press("Enter")

    theirs = bob_page.message("Lunch at one?")
    await expect(theirs.get_by_test_id("edited")).to_be_visible()
    await bob_page.expect_texts(["Lunch at one?"])
    await expect(alice_page.message("Lunch at one?").get_by_test_id("edited")).to_be_visible()
    history = await full_history(bob, alice.id)
    assert [m["content"] for m in history] == ["Lunch at one?"]


async def test_delete_leaves_a_tombstone_live_for_the_peer(
    users: UserFactory, browsers: Browsers
) -> None:
    """Deleting an own message (after confirming) shows the tombstone to both, live."""
    alice, bob = await two_friends(users)
    alice_page, bob_page = await browsers.chatting(alice, bob)
    await alice_page.send("oops, wrong chat")
    await expect(bob_page.message("oops, wrong chat")).to_be_visible()

    mine = alice_page.message("oops, wrong chat")
    await expect(mine).to_have_attribute("data-status", "read")  # its last re-render
    await mine.hover()
    await mine.get_by_test_id("delete-message").click()
    await expect(alice_page.by_id("dialog")).to_contain_text("Delete this message for everyone?")
    await alice_page.confirm()

    await expect(bob_page.messages).to_have_count(1)
    await expect(bob_page.messages).to_contain_text("This message was deleted")
    await expect(alice_page.messages).to_contain_text("You deleted this message")
    await expect(bob_page.message_texts).to_have_count(0)
    await expect(bob_page.by_id("conversation-preview")).to_have_text("Message deleted")


async def test_cancelling_the_delete_dialog_keeps_the_message(
    users: UserFactory, browsers: Browsers
) -> None:
    """Cancel in the delete confirmation leaves the message alone."""
    alice, bob = await two_friends(users)
    alice_page = await browsers.signed_in(alice)
    await alice_page.open_chat_with(bob)
    await alice_page.send("keep me")

    mine = alice_page.message("keep me")
    await expect(mine).to_have_attribute("data-status", "sent")  # its last re-render
    await mine.hover()
    await mine.get_by_test_id("delete-message").click()
    await alice_page.by_id("dialog").get_by_test_id("cancel").click()

    await expect(alice_page.by_id("dialog")).to_have_count(0)
    await alice_page.expect_texts(["keep me"])
    history = await full_history(alice, bob.id)
    assert [m["deleted_at"] for m in history] == [None]


async def test_message_arriving_while_the_chat_loads_is_shown(
    users: UserFactory, browsers: Browsers
) -> None:
    """A message that lands while the chat's history is on its way still shows in the chat."""
    alice, bob = await two_friends(users)
    page = await browsers.signed_in(bob)

    async def answer_after_a_new_message(route: Route) -> None:
        # The server has answered (without the message) when the message is sent; the
        # socket delivers it before the history response reaches the page.
        response = await route.fetch()
        await send(alice, bob, "sent while the history loads")
        await expect(page.conversation(alice.username)).to_contain_text("while the history")
        await route.fulfill(response=response)

    await page.page.route("**/api/v1/conversations/*/messages*", answer_after_a_new_message)
    await page.open_chat_with(alice)

    await page.expect_texts(["sent while the history loads"], timeout=2000)


async def test_deleting_an_unread_message_lowers_the_unread_count(
    users: UserFactory, browsers: Browsers
) -> None:
    """If Alice deletes a message Bob has not read, Bob's unread badge no longer counts it."""
    alice, bob = await two_friends(users)
    page = await browsers.signed_in(bob)
    await send(alice, bob, "kept")
    message = await send(alice, bob, "regretted")
    await expect(page.unread_badge(alice.username)).to_have_text("2")

    response = await alice.client.delete(f"/messages/{message['id']}")
    assert response.status_code == 204, response.text

    await expect(page.by_id("conversation-preview")).to_have_text("Message deleted")
    assert (await conversation_with(bob, alice))["unread_count"] == 1
    await expect(page.unread_badge(alice.username)).to_have_text("1", timeout=2000)


async def test_presence_shows_online_then_last_seen(users: UserFactory, browsers: Browsers) -> None:
    """The chat header says "online" while the peer has a tab open, "last seen" once closed."""
    alice, bob = await two_friends(users)
    alice_page = await browsers.signed_in(alice)
    bob_page = await browsers.signed_in(bob)
    await bob_page.open_chat_with(alice)
    await expect(bob_page.chat_subtitle).to_have_text("online")

    await alice_page.page.close()

    await expect(bob_page.chat_subtitle).to_have_text("last seen just now")


async def test_new_message_moves_its_conversation_to_the_top(
    users: UserFactory, browsers: Browsers
) -> None:
    """The chat list is newest activity first, and reorders live when a message lands."""
    alice, bob = await two_friends(users)
    carol = await users.register(unique_username("carol"), password=PASSWORD)
    await befriend(carol, bob)
    await send(alice, bob, "from alice")
    await send(carol, bob, "from carol")
    page = await browsers.signed_in(bob)
    conversations = page.by_id("conversation")
    await expect(conversations).to_have_count(2)
    await expect(conversations.first).to_have_attribute("data-peer", carol.username)

    await send(alice, bob, "alice again")

    await expect(conversations.first).to_have_attribute("data-peer", alice.username)
    await expect(conversations.first.get_by_test_id("conversation-preview")).to_have_text(
        "alice again"
    )


async def test_reading_on_one_device_clears_unread_on_the_other(
    users: UserFactory, browsers: Browsers
) -> None:
    """Bob reads Alice's message on his phone; his laptop's unread badge and bell clear live."""
    alice, bob = await two_friends(users)
    await send(alice, bob, "hi")
    laptop = await browsers.signed_in(bob)
    phone = await browsers.signed_in(bob)
    await expect(laptop.unread_badge(alice.username)).to_have_text("1")
    await expect(laptop.by_id("notification-badge")).to_have_text("1")

    await phone.open_chat(alice.username)

    await expect(laptop.unread_badge(alice.username)).to_have_count(0)
    await expect(laptop.by_id("notification-badge")).to_be_hidden()


async def test_ticks_are_right_after_a_reload(users: UserFactory, browsers: Browsers) -> None:
    """Ticks come from the server too: read, delivered and sent survive a fresh load."""
    alice, bob = await two_friends(users)
    first = await send(alice, bob, "one")
    second = await send(alice, bob, "two")
    await send(alice, bob, "three")
    assert (await mark_read(bob, alice.id, first["id"])).status_code == 204
    assert (await mark_delivered(bob, alice.id, second["id"])).status_code == 204

    page = await browsers.signed_in(alice)
    await page.open_chat(bob.username)

    await expect(page.messages).to_have_count(3)
    statuses = [await m.get_attribute("data-status") for m in await page.messages.all()]
    assert statuses == ["read", "delivered", "sent"]
