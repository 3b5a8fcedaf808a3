"""The layout on a phone, and the colour scheme the system asks for."""

import re

import pytest
from playwright.async_api import expect

from tests.support.browser import PHONE, Browsers, ChatPage, two_friends
from tests.support.factories import UserFactory
from tests.support.messaging import send

RGB = re.compile(r"rgba?\((\d+), (\d+), (\d+)")
# The colour an element is painted on: its own background, or the nearest ancestor's.
PAINTED_BACKGROUND = """el => {
    for (let node = el; node; node = node.parentElement) {
        const colour = getComputedStyle(node).backgroundColor;
        if (colour !== "rgba(0, 0, 0, 0)" && colour !== "transparent") return colour;
    }
    return "rgb(255, 255, 255)";
}"""


async def background_lightness(page: ChatPage, selector: str) -> float:
    """The relative luminance (0 black to 1 white) of the background an element shows."""
    colour = await page.page.locator(selector).first.evaluate(PAINTED_BACKGROUND)
    match = RGB.match(colour)
    assert match, colour
    red, green, blue = (int(value) / 255 for value in match.groups())
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


async def test_phone_shows_one_pane_at_a_time(users: UserFactory, browsers: Browsers) -> None:
    """At 390 px the list fills the screen; a chat replaces it, with a back link to return."""
    alice, bob = await two_friends(users)
    await send(alice, bob, "hello from alice")
    page = await browsers.signed_in(bob, viewport=PHONE)
    sidebar = page.page.get_by_role("complementary", name="Conversations and friends")
    main = page.by_id("main")

    await expect(page.conversation(alice.username)).to_be_visible()
    box = await sidebar.bounding_box()
    assert box is not None
    assert box["width"] == PHONE["width"], box
    await expect(main).to_be_hidden()

    await page.conversation(alice.username).click()
    await expect(page.chat).to_be_visible()
    await expect(sidebar).to_be_hidden()
    chat_box = await page.chat.bounding_box()
    assert chat_box is not None
    assert chat_box["width"] == PHONE["width"], chat_box
    await page.expect_texts(["hello from alice"])
    await expect(page.composer).to_be_visible()

    await page.page.get_by_role("link", name="Back to conversations").click()
    await expect(sidebar).to_be_visible()
    await expect(main).to_be_hidden()
    await expect(page.conversation(alice.username)).to_be_visible()


async def test_phone_settings_has_a_back_link(users: UserFactory, browsers: Browsers) -> None:
    """On a phone, settings also fill the screen and the back link returns to the list."""
    alice, _bob = await two_friends(users)
    page = await browsers.signed_in(alice, viewport=PHONE)
    sidebar = page.page.get_by_role("complementary", name="Conversations and friends")

    await page.open_settings()
    await expect(sidebar).to_be_hidden()
    await page.page.get_by_role("link", name="Back to conversations").click()

    await expect(sidebar).to_be_visible()
    await expect(page.by_id("settings")).to_have_count(0)


async def test_desktop_shows_list_and_chat_side_by_side(
    users: UserFactory, browsers: Browsers
) -> None:
    """On a desktop the conversation list stays beside the open chat."""
    alice, bob = await two_friends(users)
    await send(alice, bob, "hi")
    page = await browsers.signed_in(bob)

    await page.open_chat(alice.username)

    await expect(page.conversation(alice.username)).to_be_visible()
    await expect(page.chat).to_be_visible()
    list_box = await page.by_id("conversation-list").bounding_box()
    chat_box = await page.chat.bounding_box()
    assert list_box is not None
    assert chat_box is not None
    assert list_box["x"] + list_box["width"] <= chat_box["x"], (list_box, chat_box)


@pytest.mark.parametrize(("scheme", "dark"), [("dark", True), ("light", False)])
async def test_colour_scheme_follows_the_system(
    users: UserFactory, browsers: Browsers, scheme: str, dark: bool
) -> None:
    """With the system in dark mode the page is dark; in light mode it is light."""
    alice, _bob = await two_friends(users)
    page = await browsers.new_page(color_scheme=scheme)
    await page.goto()
    await expect(page.auth_form).to_be_visible()
    for selector in ["body", ".auth-card"]:
        lightness = await background_lightness(page, selector)
        assert (lightness < 0.2) if dark else (lightness > 0.8), (selector, lightness)

    await page.login(alice.username, alice.password)
    for selector in ["body", ".sidebar", ".main", '[data-testid="conversation-list"]']:
        lightness = await background_lightness(page, selector)
        assert (lightness < 0.2) if dark else (lightness > 0.8), (selector, lightness)
