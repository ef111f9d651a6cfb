"""Rating a help chat in Chromium (docs/protocol.md, "Satisfaction"): after the operator
closes the chat the Help tab offers 1 to 5 and a comment, taken from the keyboard; the
rating is stored with the operator who held the chat, thanked for, and not offered
again after a reload. "No thanks" ends the asking too.

The operator is a Monitor socket (tests/browser/test_help_tab.py), so each test drives
one browser."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import Page, expect

from state.store.base import utcnow
from tests.browser.conftest import SCREENS
from tests.browser.test_help_tab import LAPTOP, PHONE, Operator
from tests.browser.test_monitor_chat import activate, open_interviewee, user_says


def form(page: Page):
    return page.get_by_role("form", name="Rate this chat")


async def answered_chat(live_server, new_context) -> tuple[Page, Operator]:
    """A user whose chat Olga answered."""
    olga = await Operator.connect(live_server, available=True)
    user = await open_interviewee(new_context, live_server, viewport=LAPTOP)
    await activate(user)
    await user_says(user, "My landlord kept my deposit")
    await olga.got("My landlord kept my deposit")
    await olga.say("I can help with that. Do you have the lease?")
    await expect(user.locator("#lh-messages")).to_contain_text("Do you have the lease?")
    return user, olga


async def test_a_rating_given_by_keyboard_after_the_operator_closes(live_server, new_context):
    user, olga = await answered_chat(live_server, new_context)
    await olga.send(type="close_chat", session=olga.key())
    await expect(user.locator("#lh-partners")).to_have_text(
        "Olga closed this chat. You can start a new one.")
    await expect(form(user)).to_be_visible()
    await expect(user.get_by_role("group", name="How was this chat?")).to_be_visible()
    await user.screenshot(path=str(SCREENS / "rating-offered.png"), full_page=True)
    await user.set_viewport_size(PHONE)
    await form(user).scroll_into_view_if_needed()
    await user.screenshot(path=str(SCREENS / "rating-offered-phone.png"))
    await user.set_viewport_size(LAPTOP)

    # Send without a score: the words say what to do, at the score.
    await user.locator("#lh-rate-send").focus()
    await user.keyboard.press("Enter")
    await expect(user.locator("#lh-rate-score-error")).to_have_text(
        "Choose a rating from 1 to 5, or press “No thanks”.")
    await expect(user.get_by_label("1 - Very poor")).to_be_focused()
    # Arrows move through the radio group; Tab goes on to the comment, then to Send.
    for _ in range(3):
        await user.keyboard.press("ArrowDown")
    await expect(user.get_by_label("4 - Good")).to_be_checked()
    await expect(user.locator("#lh-rate-score-error")).to_have_text("")
    await user.keyboard.press("Tab")
    await expect(user.get_by_label("Anything you would like to add? (optional)")).to_be_focused()
    await user.keyboard.type("Quick, <b>kind</b> and clear")
    await user.keyboard.press("Tab")
    await expect(user.locator("#lh-rate-send")).to_be_focused()
    await user.keyboard.press("Enter")

    thanks = user.locator("#lh-rated")
    await expect(thanks).to_have_text("Thank you for rating this chat.")
    await expect(thanks).to_be_focused()
    await expect(form(user)).to_be_hidden()
    await user.screenshot(path=str(SCREENS / "rating-thanked.png"), full_page=True)
    stored = await live_server.services.store.list_ratings(utcnow() - timedelta(minutes=5),
                                                           utcnow() + timedelta(minutes=1))
    assert [(r.score, r.comment, r.operator_id) for r in stored] == [
        (4, "Quick, <b>kind</b> and clear", olga.person.user.id)]

    await user.reload()  # the state knows the conversation is rated: nothing is offered
    await expect(user.locator("#lh-partners")).to_have_text(
        "Olga closed this chat. You can start a new one.")
    await expect(user.locator("#lh-messages")).to_contain_text("Do you have the lease?")
    assert await user.locator("#lh-rate-form").is_hidden()
    await expect(thanks).to_have_text("")
    await olga.close()


async def test_no_thanks_when_the_user_turns_chat_off(live_server, new_context):
    user, olga = await answered_chat(live_server, new_context)
    await user.get_by_role("button", name="Turn off chat").click()
    await expect(form(user)).to_be_visible()
    # The pressed button went away: the focus is on the question, not lost.
    await expect(user.get_by_role("heading", name="Rate this chat")).to_be_focused()
    await user.get_by_role("button", name="No thanks").click()
    await expect(form(user)).to_be_hidden()
    await expect(user.get_by_role("button", name="Activate chat")).to_be_focused()
    await user.reload()
    await expect(user.locator("#lh-partners")).to_have_text("1 operator standing by.")
    assert await user.locator("#lh-rate-form").is_hidden()
    assert await live_server.services.store.has_rating(olga.key()) is False
    await olga.close()
