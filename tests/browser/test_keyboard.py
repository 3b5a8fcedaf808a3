"""Chatting with the keyboard alone, with focus always visible."""

from playwright.async_api import Locator, expect

from tests.support.browser import PASSWORD, Browsers, two_friends
from tests.support.factories import UserFactory, befriend, unique_username
from tests.support.messaging import full_history, send

FOCUS_SHOWN = """el => {
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
    return el.matches(":focus-visible") && (outline || style.boxShadow !== "none");
}"""


async def focus_is_visible(locator: Locator) -> bool:
    shown: bool = await locator.evaluate(FOCUS_SHOWN)
    return shown


async def test_enter_sends_and_shift_enter_adds_a_line(
    users: UserFactory, browsers: Browsers
) -> None:
    """Enter sends; Shift+Enter starts a new line in the same message, shown on two lines."""
    alice, bob = await two_friends(users)
    page = await browsers.signed_in(alice)
    await page.open_chat_with(bob)
    await expect(page.composer).to_be_focused()

    await page.page.keyboard.type("Shopping list:")
    await page.page.keyboard.press("Shift+Enter")
    await page.page.keyboard.type("milk")
    await expect(page.composer).to_have_value("Shopping list:\nmilk")
    await page.page.keyboard.press("Enter")
    await page.page.keyboard.type("one line")
    await page.page.keyboard.press("Enter")

    await page.expect_texts(["Shopping list:\nmilk", "one line"])
    await expect(page.composer).to_have_value("")
    await expect(page.messages).to_have_count(2)
    for bubble in await page.messages.all():
        await expect(bubble).to_have_attribute("data-status", "sent")  # rendered for good
    two_lines = await page.message_texts.nth(0).bounding_box()
    one_line = await page.message_texts.nth(1).bounding_box()
    assert two_lines is not None
    assert one_line is not None
    assert two_lines["height"] > 1.6 * one_line["height"], (two_lines, one_line)
    history = await full_history(alice, bob.id)
    assert [m["content"] for m in reversed(history)] == ["Shopping list:\nmilk", "one line"]


async def test_tab_reaches_composer_and_send_with_visible_focus(
    users: UserFactory, browsers: Browsers
) -> None:
    """From the top of the page Tab reaches the composer, then Send; Space on Send sends."""
    alice, bob = await two_friends(users)
    page = await browsers.signed_in(alice)
    await page.open_chat_with(bob)
    await page.page.locator("body").focus()
    await page.page.evaluate("document.activeElement.blur()")

    for _ in range(30):
        await page.page.keyboard.press("Tab")
        if await page.composer.evaluate("el => el === document.activeElement"):
            break
    await expect(page.composer).to_be_focused()
    assert await focus_is_visible(page.composer)

    await page.page.keyboard.type("sent with the button")
    await page.page.keyboard.press("Tab")
    send_button = page.by_id("send")
    await expect(send_button).to_be_focused()
    assert await focus_is_visible(send_button)
    await page.page.keyboard.press("Shift+Tab")
    await expect(page.composer).to_be_focused()
    await page.page.keyboard.press("Tab")
    await page.page.keyboard.press("Space")

    await page.expect_texts(["sent with the button"])
    await expect(page.composer).to_be_focused()


async def test_arrow_up_edits_the_last_message_and_escape_cancels(
    users: UserFactory, browsers: Browsers
) -> None:
    """ArrowUp in an empty composer edits the last own message; Escape leaves it unchanged."""
    alice, bob = await two_friends(users)
    page = await browsers.signed_in(alice)
    await page.open_chat_with(bob)
    await page.send("first")
    await page.send("secnod")
    await expect(page.message("secnod")).to_have_attribute("data-status", "sent")

    await page.composer.press("ArrowUp")
    await expect(page.composer).to_have_value("secnod")
    await page.composer.press("Escape")
    await expect(page.composer).to_have_value("")
    await page.composer.press("Enter")
    await page.expect_texts(["first", "secnod"])

    await page.composer.press("ArrowUp")
    await page.composer.fill("second")
    await page.composer.press("Enter")

    await page.expect_texts(["first", "second"])
    await expect(page.message("second").get_by_test_id("edited")).to_be_visible()
    await expect(page.message("first").get_by_test_id("edited")).to_have_count(0)


async def test_keyboard_opens_a_conversation_from_the_list(
    users: UserFactory, browsers: Browsers
) -> None:
    """Tab from the tabs reaches a conversation; Enter opens it with the composer focused."""
    alice, bob = await two_friends(users)
    await send(bob, alice, "hello")
    page = await browsers.signed_in(alice)
    conversation = page.conversation(bob.username)
    await expect(conversation).to_be_visible()

    await page.by_id("tab-friends").focus()
    await page.page.keyboard.press("Tab")
    await expect(conversation).to_be_focused()
    assert await focus_is_visible(conversation)
    await page.page.keyboard.press("Enter")

    await expect(page.by_id("chat-name")).to_have_text(bob.username)
    await expect(page.composer).to_be_focused()


async def test_focus_stays_on_a_conversation_when_the_list_updates(
    users: UserFactory, browsers: Browsers
) -> None:
    """A keyboard user's focus in the chat list survives a message arriving from someone."""
    alice, bob = await two_friends(users)
    carol = await users.register(unique_username("carol"), password=PASSWORD)
    await befriend(carol, alice)
    await send(bob, alice, "hello")
    page = await browsers.signed_in(alice)
    conversation = page.conversation(bob.username)
    await expect(conversation).to_be_visible()
    await page.by_id("tab-friends").focus()
    await page.page.keyboard.press("Tab")
    await expect(conversation).to_be_focused()

    await send(carol, alice, "news from carol")

    await expect(page.conversation(carol.username)).to_be_visible()
    await expect(conversation).to_be_focused(timeout=1000)


async def test_escape_closes_the_bell_panel_and_the_delete_dialog(
    users: UserFactory, browsers: Browsers
) -> None:
    """Escape closes the notifications panel (focus back on the bell) and cancels a dialog."""
    alice, bob = await two_friends(users)
    page = await browsers.signed_in(alice)
    await page.open_chat_with(bob)
    await page.send("keep this")

    await page.by_id("bell").focus()
    await page.page.keyboard.press("Enter")
    await expect(page.by_id("notification-panel")).to_be_visible()
    await page.page.keyboard.press("Escape")
    await expect(page.by_id("notification-panel")).to_be_hidden()
    await expect(page.by_id("bell")).to_be_focused()

    mine = page.message("keep this")
    await expect(mine).to_have_attribute("data-status", "sent")  # its last re-render
    await mine.get_by_test_id("delete-message").focus()
    await page.page.keyboard.press("Enter")
    await expect(page.by_id("dialog")).to_be_visible()
    await page.page.keyboard.press("Escape")
    await expect(page.by_id("dialog")).to_have_count(0)
    await page.expect_texts(["keep this"])
