"""Signing in and out, and the devices (sessions) listed in the settings."""

from playwright.async_api import expect

from tests.support.browser import PASSWORD, Browsers, two_friends
from tests.support.factories import UserFactory, unique_username
from tests.support.messaging import send


async def test_settings_list_both_devices_and_revoking_one_signs_it_out_live(
    browsers: Browsers,
) -> None:
    """Signed in twice, settings list two sessions; revoking the other one shows that tab the
    sign-in form at once, without a reload (its socket is closed with 4401)."""
    name = unique_username("alice")
    laptop = await browsers.signed_up(name)
    phone = await browsers.new_page()
    await phone.login(name)

    await laptop.open_settings()
    await expect(laptop.by_id("settings-username")).to_have_text(name)
    sessions = laptop.by_id("session")
    await expect(sessions).to_have_count(2)
    await expect(sessions.and_(laptop.page.locator('[data-current="true"]'))).to_have_count(1)
    await phone.page.evaluate("window.__loaded_once = true")

    await (
        laptop.page.locator('[data-testid="session"][data-current="false"]')
        .get_by_test_id("revoke-session")
        .click()
    )

    await expect(phone.auth_form).to_be_visible()
    await expect(phone.me).to_have_count(0)
    assert await phone.page.evaluate("window.__loaded_once") is True  # the page never reloaded
    await expect(sessions).to_have_count(1)
    await expect(laptop.status).to_be_hidden()
    await phone.page.reload()
    await expect(phone.auth_form).to_be_visible()


async def test_sign_out_all_other_devices(browsers: Browsers) -> None:
    """Signing out all other devices (confirmed) ends every session but this one."""
    name = unique_username("alice")
    laptop = await browsers.signed_up(name)
    phones = [await browsers.new_page(), await browsers.new_page()]
    for phone in phones:
        await phone.login(name)

    await laptop.open_settings()
    await expect(laptop.by_id("session")).to_have_count(3)
    await laptop.by_id("revoke-others").click()
    await laptop.confirm()

    for phone in phones:
        await expect(phone.auth_form).to_be_visible()
    await expect(laptop.by_id("session")).to_have_count(1)
    await expect(laptop.by_id("revoke-others")).to_be_hidden()


async def test_sign_out_ends_the_session(users: UserFactory, browsers: Browsers) -> None:
    """Sign out returns to the sign-in form, and a reload does not sign back in."""
    alice, _bob = await two_friends(users)
    page = await browsers.signed_in(alice)
    await page.open_settings()

    await page.by_id("sign-out").click()

    await expect(page.auth_form).to_be_visible()
    await expect(page.page).to_have_url(f"{page.base_url}/#/")
    await page.page.reload()
    await expect(page.auth_form).to_be_visible()
    sessions = (await alice.client.get("/sessions")).json()["sessions"]
    assert len(sessions) == 1  # only the API client's own


async def test_wrong_password_shows_an_error_and_a_retry_works(
    users: UserFactory, browsers: Browsers
) -> None:
    """A wrong password keeps the form with the server's message; the right one signs in."""
    alice = await users.register(unique_username("alice"), password=PASSWORD)
    page = await browsers.new_page()
    await page.goto()

    await page.fill_login(alice.username, "not the password at all")

    await expect(page.by_id("auth-error")).not_to_be_empty()
    await expect(page.auth_form).to_be_visible()
    await page.fill_login(alice.username, PASSWORD)
    await page.expect_signed_in(alice.username)


async def test_sign_in_with_email(users: UserFactory, browsers: Browsers) -> None:
    """The "Username or email" field takes the email address too."""
    alice = await users.register(unique_username("alice"), password=PASSWORD)
    page = await browsers.new_page()
    await page.goto()

    await page.fill_login(alice.email, PASSWORD)

    await page.expect_signed_in(alice.username)


async def test_common_password_is_refused_at_sign_up(browsers: Browsers) -> None:
    """Signing up with a common password shows why, and creates no account."""
    page = await browsers.new_page()
    await page.goto()
    await page.page.get_by_role("button", name="Create an account").click()
    await page.page.get_by_label("Username", exact=True).fill(unique_username("alice"))
    await page.page.get_by_label("Email").fill("alice@example.com")
    await page.page.get_by_label("Password").fill("password123")
    await page.page.get_by_role("button", name="Create account").click()

    await expect(page.by_id("auth-error")).not_to_be_empty()
    await expect(page.me).to_have_count(0)


async def test_next_account_in_the_same_tab_sees_only_its_own_data(
    users: UserFactory, browsers: Browsers
) -> None:
    """Signing out and in as someone else in one tab leaves nothing of the first account."""
    alice, bob = await two_friends(users)
    carol = await users.register(unique_username("carol"), password=PASSWORD)
    await send(bob, alice, "for alice only")
    page = await browsers.signed_in(alice)
    await page.open_chat(bob.username)
    await page.open_settings()
    await page.by_id("sign-out").click()
    await expect(page.auth_form).to_be_visible()

    await page.fill_login(carol.username, PASSWORD)

    await page.expect_signed_in(carol.username)
    await expect(page.by_id("conversation")).to_have_count(0)
    await expect(page.page.get_by_text("for alice only")).to_have_count(0)
    await expect(page.by_id("notification-badge")).to_be_hidden()
    await page.open_friends()
    await expect(page.by_id("friend")).to_have_count(0)


async def test_taken_username_is_explained_at_sign_up(
    users: UserFactory, browsers: Browsers
) -> None:
    """Signing up with a name already taken (in any case) says so and stays on the form."""
    alice = await users.register(unique_username("alice"), password=PASSWORD)
    page = await browsers.new_page()
    await page.goto()
    await page.page.get_by_role("button", name="Create an account").click()
    await page.page.get_by_label("Username", exact=True).fill(alice.username.upper())
    await page.page.get_by_label("Email").fill("someone.else@example.com")
    await page.page.get_by_label("Password").fill(PASSWORD)
    await page.page.get_by_role("button", name="Create account").click()

    await expect(page.by_id("auth-error")).to_have_text("That username is taken.")
    await expect(page.me).to_have_count(0)


async def test_session_revoked_while_offline_signs_out_when_back(
    users: UserFactory, browsers: Browsers
) -> None:
    """A tab whose session ended while it was offline shows the sign-in form once online."""
    alice, _bob = await two_friends(users)
    page = await browsers.signed_in(alice)
    await page.page.context.set_offline(True)
    await expect(page.status).to_have_attribute("data-status", "offline")

    response = await alice.client.delete("/sessions")  # every session but the API client's
    assert response.status_code == 204, response.text
    await page.page.context.set_offline(False)

    await expect(page.auth_form).to_be_visible()
