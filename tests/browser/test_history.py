"""A long conversation: the newest first, older pages as you scroll up, days marked."""

from datetime import timedelta

from playwright.async_api import expect

from tests.support.browser import Browsers, LiveClock, two_friends
from tests.support.factories import UserFactory
from tests.support.messaging import full_history, send

PER_DAY = 40
PAGE = 50  # the client loads history 50 messages at a time
DAYS_AGO = (2, 1, 0)


async def test_scrolling_up_loads_the_whole_conversation_once(
    clock: LiveClock, users: UserFactory, browsers: Browsers
) -> None:
    """120 messages over three days: the newest show first, scrolling up loads older pages
    until the beginning, each message once and in order, with a separator per day."""
    alice, bob = await two_friends(users)
    for days_ago in DAYS_AGO:
        async with clock.shifted(timedelta(days=-days_ago)):
            for n in range(PER_DAY):
                sender, recipient = (alice, bob) if n % 3 else (bob, alice)
                await send(sender, recipient, f"day -{days_ago}, message {n}")
    expected = [m["id"] for m in reversed(await full_history(bob, alice.id))]
    assert len(expected) == PER_DAY * len(DAYS_AGO)

    page = await browsers.signed_in(bob)
    await page.open_chat(alice.username)

    newest = page.message(f"day -0, message {PER_DAY - 1}")
    await expect(newest).to_be_in_viewport()
    beginning = page.by_id("history-top").get_by_text("This is the beginning of your conversation")
    await expect(beginning).to_be_hidden()
    scroller = page.page.get_by_role("log", name="Messages")
    for _ in range(10):
        if await beginning.is_visible():
            break
        shown = await page.messages.count()
        assert shown < len(expected)
        oldest_shown = page.messages.first
        oldest_id = await oldest_shown.get_attribute("data-id")
        await scroller.hover()
        await page.page.mouse.wheel(0, -100_000)
        # One page more (not everything at once), and the view stays where the reader was.
        await expect(page.messages).to_have_count(min(shown + PAGE, len(expected)))
        await expect(page.page.locator(f'[data-id="{oldest_id}"]')).to_be_in_viewport()
    await expect(beginning).to_be_visible()

    ids = [await m.get_attribute("data-id") for m in await page.messages.all()]
    assert ids == expected
    separators = page.by_id("messages").get_by_test_id("day-separator")
    await expect(separators).to_have_count(3)
    await expect(separators.nth(1)).to_have_text("Yesterday")
    await expect(separators.nth(2)).to_have_text("Today")
    first_of_day = page.by_id("messages").locator(
        '[data-testid="day-separator"] + [data-testid="message"]'
    )
    await expect(first_of_day.get_by_test_id("message-text")).to_have_text(
        [f"day -{days_ago}, message 0" for days_ago in DAYS_AGO]
    )
