"""Unfriending and blocking from a friend's menu, and what the chat allows afterwards."""

from playwright.async_api import expect

from tests.support.browser import Browsers, two_friends
from tests.support.factories import UserFactory, befriend
from tests.support.messaging import send


async def test_unfriend_removes_the_friend_and_the_composer_for_both(
    users: UserFactory, browsers: Browsers
) -> None:
    """After Alice unfriends Bob, both chats say they are not friends and have no composer;
    the history stays readable."""
    alice, bob = await two_friends(users)
    await send(bob, alice, "see you")
    alice_page = await browsers.signed_in(alice)
    bob_page = await browsers.signed_in(bob)
    await bob_page.open_chat_with(alice)
    await expect(bob_page.composer).to_be_visible()

    await alice_page.friend_menu(bob.username, "unfriend")

    await expect(alice_page.person("friend", bob.username)).to_have_count(0)
    await expect(bob_page.by_id("chat-notice")).to_contain_text("are not friends")
    await expect(bob_page.composer).to_be_hidden()
    await bob_page.expect_texts(["see you"])
    await alice_page.open_chat(bob.username)
    await expect(alice_page.by_id("chat-notice")).to_contain_text("are not friends")
    await expect(alice_page.composer).to_be_hidden()
    assert (await alice.client.get("/friends")).json()["friends"] == []


async def test_block_shows_the_notice_and_no_composer(
    users: UserFactory, browsers: Browsers
) -> None:
    """After blocking Bob from the friends menu, his chat says so and offers no composer."""
    alice, bob = await two_friends(users)
    await send(bob, alice, "hello?")
    page = await browsers.signed_in(alice)

    await page.friend_menu(bob.username, "block")

    await expect(page.person("blocked-user", bob.username)).to_be_visible()
    await expect(page.person("friend", bob.username)).to_have_count(0)
    await page.open_chat(bob.username)
    await expect(page.by_id("chat-notice")).to_have_text(
        f"You blocked {bob.username}. Unblock them under Friends to write again."
    )
    await expect(page.composer).to_be_hidden()
    await page.expect_texts(["hello?"])
    blocked = (await alice.client.get("/blocks")).json()["users"]
    assert [user["id"] for user in blocked] == [bob.id]


async def test_unblock_and_befriend_again_restores_the_composer(
    users: UserFactory, browsers: Browsers
) -> None:
    """Unblocking lifts the block (not the friendship); once friends again, Alice can write."""
    alice, bob = await two_friends(users)
    await send(bob, alice, "hello?")
    page = await browsers.signed_in(alice)
    await page.friend_menu(bob.username, "block")
    await page.open_chat(bob.username)
    await expect(page.by_id("chat-notice")).to_contain_text("You blocked")

    await page.open_friends()
    await page.person("blocked-user", bob.username).get_by_test_id("unblock").click()

    await expect(page.person("blocked-user", bob.username)).to_have_count(0)
    result = await page.search(bob.username)
    await expect(result.get_by_test_id("add-friend")).to_be_visible()
    await page.open_chat(bob.username)
    await expect(page.by_id("chat-notice")).to_contain_text("are not friends")
    await befriend(bob, alice)
    await expect(page.by_id("chat-notice")).to_be_hidden()
    await expect(page.composer).to_be_visible()
    await page.send("sorry about that")
    await expect(page.message("sorry about that")).to_have_attribute("data-status", "sent")
