"""The help-mode chat end to end in real browsers: one operator on the Monitor,
interviewees in their own browser contexts (PRODUCT.md M3–M8, M12, C4–C10, I2)."""

from __future__ import annotations

import asyncio
import json
import re

from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENS, sign_in

INTERVIEW = "chat_example"  # consent first, then help mode for "advocate" and "family law"
XSS = "<img src=x onerror=alert(1)>"


async def open_operator(new_context, live_server, email="op@example.com", first_name="Olga",
                        viewport=None) -> Page:
    """An operator signed in through the real form, on the Monitor."""
    await live_server.add_user(email, ("advocate",), first_name=first_name)
    context = await new_context(viewport=viewport or {"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, live_server, email)
    await page.goto(live_server.url("monitor"))
    await expect(page.locator("#status-toggle")).to_be_enabled()
    return page


async def serve_role(page: Page, role: str) -> None:
    """Tick `role` in the Roles panel of the settings line (and close the panel)."""
    await page.locator("#roles-button").click()
    await page.get_by_role("checkbox", name=role).check()
    await page.keyboard.press("Escape")
    await expect(page.locator("#roles-panel")).to_be_hidden()


async def go_available(page: Page, role: str = "advocate") -> None:
    await serve_role(page, role)
    await page.get_by_role("button", name="Not available for chat", exact=True).click()
    await expect(page.get_by_role("button", name="Available for chat", exact=True)).to_be_visible()


async def open_interviewee(new_context, live_server, viewport=None) -> Page:
    """A fresh browser that agrees to monitoring, so live help is on."""
    context = await new_context(viewport=viewport or {"width": 1000, "height": 800})
    page = await context.new_page()
    await page.goto(live_server.url(f"interview/{INTERVIEW}"))
    await page.get_by_label("Yes").check()
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("#lh-chat-icon")).to_be_visible()
    return page


async def activate(user: Page) -> None:
    """Turn chat on, once the page's chat runs (its first `state` replaced "Connecting…")."""
    await expect(user.locator("#lh-partners")).not_to_have_text("Connecting…")
    await user.locator("#lh-chat-icon").click()
    await user.get_by_role("button", name="Activate chat").click()
    await expect(user.locator("#lh-input")).to_be_enabled()


async def user_says(user: Page, text: str) -> None:
    await user.locator("#lh-input").fill(text)
    await user.get_by_role("button", name="Send").click()


def entries(monitor: Page):
    return monitor.locator("#sessions > li.entry")


def toggle(entry):
    """The button in an entry's heading that opens and closes its panel."""
    return entry.locator(".entry-toggle")


async def open_entry(entry) -> None:
    """Open an entry's panel (chat and actions) unless it is open already."""
    button = toggle(entry)
    if await button.get_attribute("aria-expanded") != "true":
        await button.click()
        # A chat that came to me just then opened by itself, and the click closed it again.
        if await button.get_attribute("aria-expanded") != "true":
            await button.click()
    await expect(entry.locator(".entry-panel")).to_be_visible()


def composer(entry):
    """The message box of an entry's open panel ("Message to <who>")."""
    return entry.get_by_role("textbox", name=re.compile("^Message to "))


async def test_help_mode_conversation_both_ways(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server)
    user = await open_interviewee(new_context, live_server)
    icon = user.locator("#lh-chat-icon")
    await expect(icon).to_have_attribute("aria-label", "Live chat: no one available")

    await go_available(monitor)
    await expect(icon).to_have_attribute("aria-label", "Live chat: operator available", timeout=2000)
    await expect(icon).to_have_attribute("data-state", "on")

    await icon.click()
    await expect(user.locator("#lh-input")).to_be_disabled()
    await expect(user.locator("#lh-partners")).to_have_text("1 operator standing by.")
    await activate(user)

    entry = entries(monitor).first
    await expect(entry.locator(".indicator")).to_have_text("on")
    await expect(entry.locator(".entry-marker")).to_have_text("Mine")
    await expect(toggle(entry)).to_have_attribute("aria-expanded", "true")  # mine: opened by itself

    await toggle(entry).click()  # closed by hand: what comes now is unread
    await user_says(user, "Hello, I need help with child support")
    await expect(entry.locator(".entry-unread")).to_have_text("1 unread")
    await expect(entry.locator(".entry-preview")).to_have_text(re.compile("Hello, I need help with child support$"))
    await expect(entry).to_have_class(re.compile(r"\bunread\b"))
    await expect(monitor).to_have_title("(1) Monitor")

    await open_entry(entry)
    await expect(entry.locator(".chat-message.theirs .chat-text")).to_have_text(
        "Hello, I need help with child support")
    await expect(entry).not_to_have_class(re.compile(r"\bunread\b"))
    await expect(monitor).to_have_title("Monitor")
    box = composer(entry)
    await box.fill("Happy to help. What is your question?")
    await box.press("Enter")
    await expect(entry.locator(".chat-message.mine .chat-state")).to_have_count(0)

    reply = user.locator("#lh-messages .chat-message.theirs")
    await expect(reply.locator(".chat-text")).to_have_text("Happy to help. What is your question?")
    await expect(reply.locator(".chat-name")).to_have_text("Olga")
    await expect(user.locator("#lh-messages .chat-message.mine .chat-text")).to_have_text(
        "Hello, I need help with child support")


async def test_chat_text_is_never_markup(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server)
    user = await open_interviewee(new_context, live_server)
    await go_available(monitor)  # roles to pick come from active sessions
    dialogs: list[str] = []
    for page in (monitor, user):
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await activate(user)
    await user_says(user, XSS)
    entry = entries(monitor).first
    await expect(entry.locator(".chat-message .chat-text")).to_have_text(XSS)
    await composer(entry).fill(XSS + " back")
    await composer(entry).press("Enter")
    await expect(user.locator("#lh-messages .chat-text").nth(1)).to_have_text(XSS + " back")
    assert await monitor.locator("#sessions img").count() == 0
    assert await user.locator("#lh-messages img").count() == 0
    await user.wait_for_timeout(300)
    assert dialogs == []


async def test_operator_going_unavailable_keeps_the_chat(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server)
    user = await open_interviewee(new_context, live_server)
    await go_available(monitor)  # roles to pick come from active sessions
    await activate(user)
    await monitor.get_by_role("button", name="Available for chat", exact=True).click()
    await expect(monitor.get_by_role("button", name="Not available for chat", exact=True)).to_be_visible()
    icon = user.locator("#lh-chat-icon")
    await expect(icon).to_have_attribute("aria-label", "Live chat: no one available")
    await expect(user.locator("#lh-input")).to_be_enabled()
    await user_says(user, "Are you still there?")
    entry = entries(monitor).first
    await expect(entry.locator(".chat-text")).to_have_text("Are you still there?")
    await composer(entry).fill("Yes, still here.")
    await composer(entry).press("Enter")
    await expect(user.locator("#lh-messages .theirs .chat-text")).to_have_text("Yes, still here.")


async def test_block_by_one_operator_holds_for_all_and_unblock_restores(
        live_server, new_context) -> None:
    olga = await open_operator(new_context, live_server)
    pavel = await open_operator(new_context, live_server, "pavel@example.com", "Pavel")
    user = await open_interviewee(new_context, live_server)
    await go_available(olga)  # roles to pick come from active sessions
    await go_available(pavel)
    await activate(user)
    olga_entry, pavel_entry = entries(olga).first, entries(pavel).first
    await open_entry(pavel_entry)  # Olga's chat: on Pavel's Monitor it opens when he asks
    await olga_entry.get_by_role("button", name="Block", exact=True).click()
    for entry in (olga_entry, pavel_entry):
        await expect(entry.locator(".badge-blocked")).to_be_visible()
        await expect(entry.locator(".indicator")).to_have_text("off")
    await expect(user.locator("#lh-input")).to_be_disabled()
    await expect(user.get_by_role("button", name="Activate chat")).to_be_disabled()
    await expect(user.locator("#lh-partners")).to_contain_text("blocked")

    await pavel_entry.get_by_role("button", name="Unblock", exact=True).click()
    await expect(olga_entry.locator(".badge-blocked")).to_be_hidden()
    await expect(user.get_by_role("button", name="Activate chat")).to_be_enabled()
    await activate(user)
    await expect(olga_entry.locator(".indicator")).to_have_text("on")
    await expect(pavel_entry.locator(".indicator")).to_have_text("on")


async def test_operator_signing_off_greys_the_icon_and_keeps_the_log(
        live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server)
    user = await open_interviewee(new_context, live_server)
    await go_available(monitor)
    await activate(user)
    await user_says(user, "Thanks for your help")
    await expect(entries(monitor).first.locator(".chat-text")).to_have_text("Thanks for your help")
    icon = user.locator("#lh-chat-icon")
    await expect(icon).to_have_attribute("aria-label", re.compile("operator available"))
    await monitor.get_by_role("button", name="Sign out").click()
    await expect(icon).to_have_attribute("aria-label", "Live chat: no one available")
    await icon.click()
    await expect(user.locator("#lh-messages .mine .chat-text")).to_have_text("Thanks for your help")


async def test_closed_tab_shows_offline(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server)
    user = await open_interviewee(new_context, live_server)
    entry = entries(monitor).first
    await expect(entry.locator(".indicator")).to_have_text("waiting")
    await user.close()
    group = monitor.get_by_role("button", name="Offline (1)")
    await expect(group).to_be_visible(timeout=5000)
    await expect(entries(monitor)).to_have_count(0)  # folded away
    await group.click()
    await expect(entry.locator(".indicator")).to_have_text("offline")


async def test_reconnect_loses_and_doubles_nothing(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server)
    user = await open_interviewee(new_context, live_server)
    await go_available(monitor)  # roles to pick come from active sessions
    await activate(user)
    await user_says(user, "first")
    entry = entries(monitor).first
    box = composer(entry)
    await expect(entry.locator(".chat-text")).to_have_text(["first"])

    # Drop the user's socket; the page must notice and reconnect by itself.
    await user.evaluate("window.livehelpUserChat.socket.ws.close()")
    await expect(user.get_by_role("status").filter(has_text="reconnecting")).to_be_visible()
    await box.fill("sent while you were away")
    await box.press("Enter")
    await expect(user.get_by_role("status").filter(has_text="reconnecting")).to_be_hidden(timeout=5000)
    await user_says(user, "second")

    # Now the Monitor's socket drops while the user talks.
    await monitor.evaluate("window.livehelpMonitor.socket.ws.close()")
    await user_says(user, "third")
    await expect(monitor.locator("#connection")).to_be_hidden(timeout=5000)
    expected = ["first", "sent while you were away", "second", "third"]
    await expect(user.locator("#lh-messages .chat-text")).to_have_text(expected)
    await expect(entry.locator(".chat-text")).to_have_text(expected)

    await user.reload()
    await user.locator("#lh-chat-icon").click()
    await expect(user.locator("#lh-messages .chat-text")).to_have_text(expected)
    await expect(user.locator("#lh-input")).to_be_enabled()


async def test_screenshots_monitor_and_phone_help_tab(live_server, new_context) -> None:
    SCREENS.mkdir(exist_ok=True)
    monitor = await open_operator(new_context, live_server)
    ann = await open_interviewee(new_context, live_server, viewport={"width": 390, "height": 844})
    ben = await open_interviewee(new_context, live_server)
    await go_available(monitor)
    await serve_role(monitor, "family law")
    await activate(ann)
    await user_says(ann, "Can I ask about spousal support here?")
    await activate(ben)
    await user_says(ben, "Hi! " + XSS)
    first, second = entries(monitor).nth(0), entries(monitor).nth(1)
    await expect(first.locator(".chat-text")).to_have_count(1)
    await expect(second.locator(".chat-text")).to_have_count(1)
    await composer(first).fill("Yes, of course. What would you like to know?")
    await composer(first).press("Enter")
    await expect(ann.locator("#lh-messages .theirs")).to_have_count(1)
    await user_says(ann, "How is it calculated?")
    await expect(first.locator(".chat-text")).to_have_count(3)
    await monitor.screenshot(path=str(SCREENS / "monitor-two-conversations.png"), full_page=True)
    await ann.screenshot(path=str(SCREENS / "help-tab-phone.png"), full_page=True)


async def test_phone_number_and_call_forwarding(live_server, new_context) -> None:
    live_server.services.config.twilio.voice = True
    live_server.services.config.twilio.number = "+12762410114"
    monitor = await open_operator(new_context, live_server)
    user = await open_interviewee(new_context, live_server)
    entry = entries(monitor).first
    await expect(entry.locator(".indicator")).to_have_text("waiting")
    await open_entry(entry)
    await expect(entry.get_by_role("button", name="Forward calls")).to_be_hidden()

    change = monitor.get_by_role("button", name="Phone: none · Change")
    await change.click()
    phone = monitor.get_by_label(re.compile("Your phone number"))
    await expect(phone).to_be_focused()
    save = monitor.get_by_role("button", name="Save number")
    assert await save.evaluate("(b) => b.getClientRects().length") == 1  # one line, never wrapped
    line = await save.evaluate("(b) => parseFloat(getComputedStyle(b).lineHeight)")
    assert (await save.bounding_box())["height"] < 2 * line
    message = monitor.locator("#phone-message")
    for typed, words in (("555-1234", ("This phone number must start with + and the country code, "
                                       "for example +12762410114.")),
                         ("+0 123", re.compile(r"^This phone number could not be read: write \+ and the "
                                               r"country code, then the number"))):
        await phone.fill(typed)
        await save.click()
        await expect(message).to_have_text(words)
        await expect(message).to_have_class(re.compile(r"\berror\b"))
        await expect(phone).to_have_attribute("aria-invalid", "true")
    SCREENS.mkdir(exist_ok=True)
    await monitor.screenshot(path=str(SCREENS / "monitor-phone-panel.png"))

    await phone.fill("+12025550143")
    await save.click()
    await expect(message).to_have_text("Saved.")
    await expect(monitor.get_by_role("button", name="Phone: +1 202… · Change")).to_be_visible()
    await entry.get_by_role("button", name="Forward calls").click()
    await expect(entry.get_by_role("button", name="Call forwarding on")).to_have_attribute(
        "aria-pressed", "true")

    phone_icon = user.get_by_role("button", name="Call an operator")
    await expect(phone_icon).to_be_visible(timeout=3000)
    await phone_icon.click()
    instructions = user.locator("#lh-phone")
    await expect(instructions).to_contain_text(re.compile(r"Call \+1 276-241-0114 and enter code \d{4}"))
    await expect(user.locator("#lh-phone-number")).to_have_attribute("href", "tel:+12762410114")

    await entry.get_by_role("button", name="Call forwarding on").click()
    await expect(phone_icon).to_be_hidden()
    await expect(instructions).to_be_hidden()


async def test_peer_mode_group_chat_without_operators(live_server, new_context) -> None:
    ann_context = await new_context()
    ann = await ann_context.new_page()
    await ann.goto(live_server.url("interview/peer"))
    await ann.get_by_role("button", name="Continue").click()
    share = await ann.locator("#share-link").input_value()
    ben = await (await new_context()).new_page()
    await ben.goto(share)
    for page in (ann, ben):
        icon = page.locator("#lh-chat-icon")
        await expect(icon).to_have_attribute("data-state", "on")  # a message board: always on
        await activate(page)
    await expect(ann.locator("#lh-partners")).to_contain_text("1 other person in this session")
    await user_says(ann, "I can do Tuesday")
    await expect(ben.locator("#lh-messages .theirs .chat-text")).to_have_text("I can do Tuesday")
    await user_says(ben, "Tuesday works")
    await expect(ann.locator("#lh-messages .chat-text")).to_have_text(["I can do Tuesday", "Tuesday works"])
    await expect(ann.locator("#lh-messages .mine .chat-text")).to_have_text("I can do Tuesday")
    await expect(ann.locator("#lh-messages .theirs .chat-text")).to_have_text("Tuesday works")


async def test_a_new_session_costs_no_history_until_it_is_opened(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server)
    sent: list[dict] = []
    monitor.on("websocket", lambda ws: ws.on(
        "framesent", lambda payload: sent.append(json.loads(payload))))
    await monitor.reload()
    await expect(monitor.locator("#status-toggle")).to_be_enabled()
    await open_interviewee(new_context, live_server)
    await expect(entries(monitor)).to_have_count(1)
    (entry,) = live_server.services.livehelp.listed_entries()
    await open_entry(entries(monitor).first)
    for _ in range(100):  # the page asks as the entry opens
        if any(m["type"] == "history" for m in sent):
            break
        await asyncio.sleep(0.05)
    assert [m for m in sent if m["type"] == "history"] == [
        {"type": "history", "conversation": entry["conversation"], "after": 0}]
    assert [m["type"] for m in sent].count("hello") == 1
