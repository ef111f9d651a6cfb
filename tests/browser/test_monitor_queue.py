"""The Monitor side of issue 15, in Chromium: how many chats an operator takes, the
line of users waiting for an operator, closing and transferring a chat, and messages
left when nobody could chat. Users are bare interviewee sockets (monitor_visitors.py),
but for one real Help tab in the transfer; the rest of what the Help tab shows of this
is in test_help_queue.py."""

from __future__ import annotations

import re

import msgspec
from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENS
from tests.browser.monitor_visitors import LAPTOP, PHONE, Visitor, entry_of, expect_drawn, many
from tests.browser.test_accessibility import assert_no_violations
from tests.browser.test_monitor_chat import (
    activate,
    composer,
    entries,
    go_available,
    open_entry,
    open_interviewee,
    open_operator,
    toggle,
    user_says,
)
from tests.conftest import receive

XSS = "<img src=x onerror=alert(1)>"


async def shoot(monitor: Page, name: str) -> None:
    """monitor15-<name>-1366.png and -390.png, back at the laptop size after."""
    SCREENS.mkdir(exist_ok=True)
    for size, viewport in (("1366", LAPTOP), ("390", PHONE)):
        await monitor.set_viewport_size(viewport)
        await monitor.screenshot(path=str(SCREENS / f"monitor15-{name}-{size}.png"))
    await monitor.set_viewport_size(LAPTOP)


async def take_up_to(monitor: Page, chats: int) -> None:
    """Choose "Takes up to <chats> chats" and wait for the server's snapshot to say so."""
    await monitor.get_by_label("Takes up to").select_option(str(chats))
    await expect(monitor.locator("#announcer")).to_have_text(f"You take up to {chats} chats at once.")


def transfer_button(entry):
    return entry.get_by_role("button", name=re.compile("^Transfer the chat with "))


# ---------------------------------------------------------------------------- capacity
async def test_the_number_of_chats_is_the_servers_and_survives_a_reload(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    select = monitor.get_by_label("Takes up to")
    await expect(select).to_have_value("4")  # `routing: capacity`
    assert await select.locator("option").all_text_contents() == [str(n) for n in range(1, 11)]
    await take_up_to(monitor, 2)
    await monitor.reload()
    await expect(monitor.get_by_label("Takes up to")).to_have_value("2")
    # The ceiling came down since the page was drawn: the server refuses, in words, and
    # the page shows the number still in effect.
    config = live_server.services.config
    config.routing = msgspec.structs.replace(config.routing, max_capacity=3)
    await monitor.get_by_label("Takes up to").select_option("5")
    await expect(monitor.locator("#monitor-error")).to_have_text("Choose from 1 to 3 conversations at once.")
    await expect(monitor.get_by_label("Takes up to")).to_have_value("2")


# ---------------------------------------------------------------------------- the line
async def test_the_line_shows_who_waits_in_order_until_a_place_frees(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    await take_up_to(monitor, 2)
    asked = await Visitor.start(live_server)  # asked before anyone was in line: read, not answered
    await go_available(monitor)
    await asked.activate()
    await toggle(entry_of(monitor, asked)).click()
    await asked.says("A question before the rest")
    await expect(entry_of(monitor, asked).locator(".entry-unread")).to_have_text("1 unread")
    await open_entry(entry_of(monitor, asked))
    await toggle(entry_of(monitor, asked)).click()
    await asked.deactivate()
    first, second, third, fourth = await many(live_server, 4)
    for visitor in (first, second):
        await visitor.activate()
    assert (await third.activate())["queue"]["position"] == 1
    assert (await fourth.activate())["queue"]["position"] == 2
    await expect(entry_of(monitor, first).locator(".entry-marker")).to_have_text("Mine")
    await expect(entry_of(monitor, third).locator(".entry-time")).to_have_text("In line · 1st · waiting < 1 min")
    await expect(entry_of(monitor, fourth).locator(".entry-time")).to_have_text("In line · 2nd · waiting < 1 min")
    await expect(monitor.get_by_text("Waiting for an operator (2)")).to_be_visible()
    # The line comes right after what is unread, before what waits for an answer.
    await toggle(entry_of(monitor, first)).click()
    await first.says("Still there?")
    await expect(entry_of(monitor, first).locator(".entry-unread")).to_have_text("1 unread")
    await monitor.locator("#search").focus()
    await expect_drawn(monitor, [first, third, fourth, asked, second])
    in_line = monitor.get_by_role("button", name="In line", exact=True)
    await in_line.click()
    await expect_drawn(monitor, [third, fourth])
    await assert_no_violations(monitor, "the line, filtered")
    await in_line.click()
    await shoot(monitor, "line")

    await first.deactivate()  # a place frees: the first in line gets it, at once
    state = await third.state_until(lambda state: state["operator_name"])
    assert state["operator_name"] == "Olga" and state["queue"] is None
    await expect(entry_of(monitor, third).locator(".entry-marker")).to_have_text("Mine")
    await expect(entry_of(monitor, third).locator(".entry-time")).not_to_have_text(re.compile("In line"))
    await expect(entry_of(monitor, fourth).locator(".entry-time")).to_have_text("In line · 1st · waiting < 1 min")
    await expect(monitor.get_by_text("Waiting for an operator (1)")).to_be_visible()
    await monitor.locator("#search").focus()
    await expect_drawn(monitor, [first, fourth, asked, second, third])


# ---------------------------------------------------------------------------- close
async def test_closing_a_chat_ends_it_on_the_monitor_and_for_the_user(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    visitor = await Visitor.start(live_server)
    await go_available(monitor)
    await visitor.activate()
    entry = entry_of(monitor, visitor)
    await expect(entry.locator(".entry-marker")).to_have_text("Mine")
    close = entry.get_by_role("button", name=re.compile("^Close chat with "))
    await close.focus()
    await monitor.keyboard.press("Enter")
    state = await visitor.state_until(lambda state: not state["active"])
    assert state["closed_by"] == "Olga"
    await expect(entry.locator(".indicator")).to_have_text("standby")
    await expect(composer(entry)).to_be_disabled()
    await expect(close).to_be_hidden()
    await expect(transfer_button(entry)).to_be_hidden()
    await expect(toggle(entry)).to_be_focused()  # the button went; the keyboard stays on the entry
    who = await entry.locator(".entry-user").text_content()
    await expect(monitor.locator("#announcer")).to_have_text(f"{who}: chat closed; {who}: standby.")


# ---------------------------------------------------------------------------- transfer
async def test_a_transfer_from_ann_to_bob_with_a_note(live_server, new_context) -> None:
    ann = await open_operator(new_context, live_server, "ann@example.com", "Ann", viewport=LAPTOP)
    bob = await open_operator(new_context, live_server, "bob@example.com", "Bob", viewport=LAPTOP)
    user = await open_interviewee(new_context, live_server)  # a real Help tab, this once
    for monitor in (ann, bob):
        await go_available(monitor)
    await activate(user)  # Ann's: a tie goes by email
    await user_says(user, "Is the rent part required?")
    at_ann, at_bob = entries(ann).first, entries(bob).first
    await expect(at_ann.locator(".entry-marker")).to_have_text("Mine")
    await expect(at_bob.locator(".entry-marker")).to_have_text("Taken by Ann")
    await open_entry(at_bob)
    await expect(transfer_button(at_bob)).to_be_hidden()  # not Bob's to pass on

    dialog = ann.get_by_role("dialog", name=re.compile("^Transfer the chat with Visitor "))
    await transfer_button(at_ann).click()
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("heading")).to_be_focused()
    await ann.keyboard.press("Escape")  # Cancel: back where it was opened
    await expect(dialog).to_be_hidden()
    await expect(transfer_button(at_ann)).to_be_focused()
    await ann.keyboard.press("Enter")
    to_bob = dialog.get_by_role("radio", name="Bob — 0 of 4 chats")
    await expect(to_bob).to_be_visible()
    # Closed and opened again in one task: the close event, which comes a task later,
    # must not undo the new opening (it once left the dialog asking forever).
    await transfer_button(at_ann).evaluate(
        "(button) => { document.querySelector('dialog[open]').close(); button.click(); }")
    await expect(to_bob).to_be_visible()
    await expect(dialog.get_by_role("radio", name=re.compile("^Back to the queue"))).to_be_visible()
    await dialog.get_by_role("button", name="Transfer").click()  # nobody chosen
    await expect(dialog.get_by_role("alert")).to_have_text(re.compile("^Choose who takes the chat"))
    await to_bob.check()
    await dialog.get_by_label("Note for the next operator").fill(f"Asks about the rent; {XSS}")
    await assert_no_violations(ann, "transfer dialog open")
    await shoot(ann, "transfer")
    # Bob steps away meanwhile: the server says so, in the dialog, and nothing moves.
    await bob.get_by_role("button", name="Available for chat", exact=True).click()
    await expect(bob.get_by_role("button", name="Not available for chat", exact=True)).to_be_visible()
    await dialog.get_by_role("button", name="Transfer").click()
    await expect(dialog.get_by_role("alert")).to_have_text("That operator is not available now.")
    await bob.get_by_role("button", name="Not available for chat", exact=True).click()
    await expect(bob.get_by_role("button", name="Available for chat", exact=True)).to_be_visible()
    await dialog.get_by_role("button", name="Transfer").click()

    await expect(dialog).to_be_hidden()
    await expect(user.locator("#lh-partners")).to_have_text("You are now chatting with Bob.")
    await expect(at_bob.locator(".chat-text")).to_have_text(["Is the rent part required?"])  # the history came along
    await expect(at_bob.locator(".entry-marker")).to_have_text("Mine")
    await expect(at_bob.locator(".transfer-note")).to_have_text(f"From Ann: Asks about the rent; {XSS}")
    await expect(at_ann.locator(".entry-marker")).to_have_text("Taken by Bob")
    await expect(at_ann.locator(".transfer-note")).to_be_hidden()  # the note is for Bob
    await expect(toggle(at_ann)).to_be_focused()  # her Transfer button went with the chat
    await ann.get_by_role("button", name="Mine", exact=True).click()
    await expect(entries(ann)).to_have_count(0)
    assert await bob.locator("#sessions img").count() == 0
    await shoot(bob, "transferred")


# ---------------------------------------------------------------------------- messages left
async def test_a_message_left_is_listed_answered_and_handled_everywhere(live_server, new_context) -> None:
    olga = await open_operator(new_context, live_server, viewport=LAPTOP)
    pavel = await open_operator(new_context, live_server, "pavel@example.com", "Pavel", viewport=LAPTOP)
    left_of = {page: page.get_by_role("button", name=re.compile(r"^Messages left \(")) for page in (olga, pavel)}
    await expect(left_of[olga]).to_have_text("Messages left (0)")
    await expect(left_of[olga]).to_have_attribute("aria-expanded", "false")  # folded while empty
    ann_lee = await live_server.add_user("ann.lee@example.org", ("user",), first_name="Ann", last_name="Lee")
    anonymous = await Visitor.start(live_server)  # nobody is available: they may leave a message
    ann = await Visitor.start(live_server, user=ann_lee)
    await anonymous.leaves_message("Please call me about the deadline", "+12762410114")
    await ann.leaves_message(f"Email me {XSS}", "ann.lee@example.org")
    for page in (olga, pavel):
        await expect(left_of[page]).to_have_text("Messages left (2)")
        await expect(left_of[page]).to_have_attribute("aria-expanded", "true")
    items = olga.locator("#left-list > li")
    await expect(items.locator(".left-title")).to_have_text(
        [re.compile(r"^Housing benefit application · session [\w-]+$")] * 2)
    # The anonymous writer is named as their session entry names them.
    await expect(items.locator(".left-who")).to_have_text([re.compile(r"^Visitor \w{4}$"), "Ann Lee"])
    visitor = (await items.locator(".left-who").first.text_content()).strip()
    await expect(items.locator(".left-text")).to_have_text(["Please call me about the deadline", f"Email me {XSS}"])
    await expect(items.get_by_role("link", name="+12762410114")).to_have_attribute("href", "tel:+12762410114")
    await expect(items.get_by_role("link", name="ann.lee@example.org")).to_have_attribute(
        "href", "mailto:ann.lee%40example.org")
    assert await olga.locator("#left-list img").count() == 0
    await assert_no_violations(olga, "messages left")
    await shoot(olga, "messages-left")

    # The reply goes into the user's conversation: there when their page comes back.
    anonymous.leave()
    reply = olga.get_by_role("textbox", name=f"Reply to {visitor}")
    await reply.fill("We will call you at ten.")
    await reply.press("Enter")
    await expect(items.first.locator(".left-replied")).to_have_text("You replied: We will call you at ten.")
    back = await Visitor.start(live_server, record=anonymous.record, browser=anonymous.browser)
    await back.ws.write_message('{"type": "hello", "last_seq": 0}')
    while (message := await receive(back.ws, "chat"))["role"] != "operator":
        pass
    assert message["text"] == "We will call you at ten." and message["name"] == "Olga"

    # "Open session": Ann's entry, opened.
    await items.nth(1).get_by_role("button", name="Open the session of Ann Lee").click()
    await expect(toggle(entry_of(olga, ann))).to_have_attribute("aria-expanded", "true")
    handled = olga.get_by_role("button", name=f"Mark the message of {visitor} handled")
    await handled.focus()
    await olga.keyboard.press("Enter")
    for page in (olga, pavel):
        await expect(left_of[page]).to_have_text("Messages left (1)")
        await expect(page.locator("#left-list .left-who")).to_have_text(["Ann Lee"])
    await expect(olga.get_by_role("button", name="Mark the message of Ann Lee handled")).to_be_focused()
    await pavel.reload()  # stored: the same after a reload
    await expect(left_of[pavel]).to_have_text("Messages left (1)")
    await pavel.get_by_role("button", name="Mark the message of Ann Lee handled").click()
    await expect(left_of[olga]).to_have_text("Messages left (0)")
    await expect(left_of[olga]).to_have_attribute("aria-expanded", "false")
