"""Two people find each other, become friends and chat, each in their own browser."""

from playwright.async_api import expect

from tests.support.browser import PASSWORD, Browsers, two_friends
from tests.support.factories import UserFactory, send_friend_request, unique_username
from tests.support.messaging import send


async def test_two_people_befriend_and_chat_live_in_order(browsers: Browsers) -> None:
    """Sign up, search, add, accept (badge and bell show it), then chat both ways live."""
    alice_name, bob_name = unique_username("alice"), unique_username("bob")
    alice = await browsers.signed_up(alice_name)
    bob = await browsers.signed_up(bob_name)

    await alice.add_friend(bob_name)
    await expect(bob.by_id("requests-badge")).to_have_text("1")
    await expect(bob.by_id("notification-badge")).to_have_text("1")
    await bob.accept_request(alice_name)
    await expect(bob.by_id("requests-badge")).to_be_hidden()
    await expect(alice.person("friend", bob_name)).to_be_visible()

    await bob.open_chats()
    await alice.message_friend(bob_name)
    await alice.send("Hi Bob!")
    await expect(bob.conversation(alice_name)).to_contain_text("Hi Bob!")
    await bob.open_chat(alice_name)
    await bob.expect_texts(["Hi Bob!"])

    await bob.send("Hello Alice")
    await alice.expect_texts(["Hi Bob!", "Hello Alice"])
    for text in ["one", "two", "three"]:
        await alice.send(text)
    await bob.expect_texts(["Hi Bob!", "Hello Alice", "one", "two", "three"])
    for text in ["four", "five"]:
        await bob.send(text)
    expected = ["Hi Bob!", "Hello Alice", "one", "two", "three", "four", "five"]
    await alice.expect_texts(expected)
    await bob.expect_texts(expected)


async def test_request_arrives_live_with_a_toast(users: UserFactory, browsers: Browsers) -> None:
    """A friend request made while the recipient is looking shows up without a reload."""
    alice = await users.register(unique_username("alice"))
    bob_name = unique_username("bob")
    bob = await browsers.signed_up(bob_name)

    await bob.open_friends()
    response = await alice.client.get("/users", params={"q": bob_name})
    bob_id = response.json()["users"][0]["id"]
    response = await alice.client.post("/friend-requests", json={"user_id": bob_id})
    assert response.status_code == 201, response.text

    await expect(bob.person("incoming-request", alice.username)).to_be_visible()
    await expect(bob.page.locator("#toasts")).to_contain_text(
        f"{alice.username} wants to be your friend"
    )
    await expect(bob.by_id("requests-badge")).to_have_text("1")


async def test_declining_a_request_removes_it(users: UserFactory, browsers: Browsers) -> None:
    """Declining a request removes it and the badge; the two are not friends."""
    alice = await users.register(unique_username("alice"))
    bob = await users.register(unique_username("bob"), password=PASSWORD)
    await send_friend_request(alice, bob)
    page = await browsers.signed_in(bob)
    await expect(page.by_id("requests-badge")).to_have_text("1")

    await page.open_friends()
    await page.person("incoming-request", alice.username).get_by_test_id("decline-request").click()

    await expect(page.person("incoming-request", alice.username)).to_have_count(0)
    await expect(page.by_id("requests-badge")).to_be_hidden()
    friends = (await bob.client.get("/friends")).json()["friends"]
    assert friends == []


async def test_cancelling_a_sent_request(users: UserFactory, browsers: Browsers) -> None:
    """The sender can withdraw a pending request; the recipient no longer has it."""
    bob = await users.register(unique_username("bob"))
    alice_name = unique_username("alice")
    alice = await browsers.signed_up(alice_name)
    await alice.add_friend(bob.username)

    await alice.person("outgoing-request", bob.username).get_by_test_id("cancel-request").click()

    await expect(alice.person("outgoing-request", bob.username)).to_have_count(0)
    result = await alice.search(bob.username)
    await expect(result.get_by_test_id("add-friend")).to_be_visible()
    incoming = (await bob.client.get("/friend-requests")).json()["requests"]
    assert incoming == []


async def test_same_account_in_two_tabs_sees_its_own_sends(
    users: UserFactory, browsers: Browsers
) -> None:
    """A message sent from one device appears on the sender's other device live."""
    alice, bob = await two_friends(users)
    laptop = await browsers.signed_in(alice)
    phone = await browsers.signed_in(alice)
    await laptop.open_chat_with(bob)
    await phone.open_chat_with(bob)

    await laptop.send("sent from the laptop")

    await phone.expect_texts(["sent from the laptop"])
    await expect(phone.message("sent from the laptop")).to_have_attribute("data-status", "sent")


async def test_reload_keeps_you_signed_in_on_the_same_chat(
    users: UserFactory, browsers: Browsers
) -> None:
    """Reloading a chat's address keeps the session (cookie) and shows the same chat."""
    alice, bob = await two_friends(users)
    await send(bob, alice, "before the reload")
    page = await browsers.signed_in(alice)
    await page.open_chat(bob.username)

    await page.page.reload()

    await expect(page.me).to_have_text(alice.username)
    await expect(page.by_id("chat-name")).to_have_text(bob.username)
    await page.expect_texts(["before the reload"])
