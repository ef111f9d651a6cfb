"""Operator tools on the Monitor, in Chromium (issue 16): the `/` picker of canned replies
in a message box, "My replies", the admin page of shared replies reaching an open
Monitor, and notes for operators that the next operator sees after a transfer."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from state.store.base import CannedReply
from tests.browser.conftest import SCREENS, sign_in
from tests.browser.monitor_visitors import LAPTOP, PHONE, Visitor
from tests.browser.test_accessibility import assert_no_violations
from tests.browser.test_monitor_chat import (
    INTERVIEW,
    XSS,
    activate,
    composer,
    entries,
    go_available,
    open_entry,
    open_operator,
    user_says,
)

HOUSING_TEXT = "Hello {first_name}, about {interview}: you can apply online."


async def shoot(page: Page, name: str) -> None:
    SCREENS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENS / f"tools-{name}.png"))


def picker(entry):
    return entry.get_by_role("listbox", name=re.compile("^Saved replies for "))


def combobox(entry):
    return entry.get_by_role("combobox")


async def open_signed_in_interviewee(new_context, live_server, email: str) -> Page:
    """A signed-in interviewee on the chat interview, live help on (they agreed)."""
    context = await new_context(viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    await sign_in(page, live_server, email)
    await page.goto(live_server.url(f"interview/{INTERVIEW}"))
    await page.get_by_label("Yes").check()
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("#lh-chat-icon")).to_be_visible()
    return page


async def test_a_canned_reply_goes_in_by_keyboard_filled_in_and_is_sent_after_editing(
        live_server, new_context) -> None:
    await live_server.services.store.save_canned_reply(
        CannedReply("Office times", "We answer from 9 to 5."))
    await live_server.add_user("ann@example.com", ("user",), first_name="Ann", last_name="Lee")
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)

    # "My replies": Olga keeps one of her own.
    await monitor.get_by_role("button", name="My replies").click()
    dialog = monitor.get_by_role("dialog", name="My replies")
    await expect(dialog.get_by_role("heading", name="My replies")).to_be_focused()
    await expect(dialog.get_by_text("Shared replies kept by administrators: 1.")).to_be_visible()
    await dialog.get_by_label("Title").fill("Housing benefit")
    await dialog.get_by_label("Text").fill(HOUSING_TEXT)
    await dialog.get_by_role("button", name="Save reply").click()
    saved = dialog.locator("#reply-status")
    await expect(saved).to_have_text("Saved “Housing benefit”.")
    await expect(saved).to_be_focused()  # read out: the page's live region is inert behind the dialog
    await expect(dialog.get_by_role("button", name="Edit “Housing benefit”")).to_be_visible()
    await assert_no_violations(monitor, "My replies open")
    await shoot(monitor, "my-replies")
    await monitor.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(monitor.get_by_role("button", name="My replies")).to_be_focused()

    user = await open_signed_in_interviewee(new_context, live_server, "ann@example.com")
    await go_available(monitor)
    await activate(user)
    await user_says(user, "Can I get help with my rent?")
    entry = entries(monitor).first
    await open_entry(entry)
    box = composer(entry)
    await box.click()
    await monitor.keyboard.type("Hi! /hou")
    options = picker(entry).get_by_role("option")
    await expect(options).to_have_count(1)  # "hou" is in no other title or text
    await expect(options.first).to_contain_text("Housing benefit")
    await expect(combobox(entry)).to_have_attribute("aria-expanded", "true")
    await expect(box).not_to_have_attribute("aria-activedescendant", re.compile("."))
    await monitor.keyboard.press("ArrowDown")
    await expect(options.first).to_have_attribute("aria-selected", "true")
    await expect(box).to_have_attribute("aria-activedescendant", await options.first.get_attribute("id"))
    await assert_no_violations(monitor, "Monitor with the reply picker open")
    await shoot(monitor, "picker")

    await monitor.keyboard.press("Enter")
    filled = "Hi! Hello Ann, about Family support questionnaire: you can apply online."
    await expect(box).to_have_value(filled)  # in the box, not sent
    await expect(picker(entry)).to_be_hidden()
    await expect(combobox(entry)).to_have_attribute("aria-expanded", "false")
    await monitor.keyboard.type(" Which town do you live in?")
    await shoot(monitor, "inserted")
    await monitor.keyboard.press("Enter")  # the list is closed: Enter sends, as always

    sent = f"{filled} Which town do you live in?"
    theirs = user.locator("#lh-messages .chat-message.theirs .chat-text")
    await expect(theirs).to_have_text([sent])  # only the edited text ever went
    await expect(box).to_have_value("")
    await shoot(user, "reply-received")

    # Changed and deleted in "My replies": the picker follows.
    await monitor.get_by_role("button", name="My replies").click()
    await dialog.get_by_role("button", name="Edit “Housing benefit”").click()
    await expect(dialog.get_by_label("Title")).to_be_focused()
    await dialog.get_by_label("Title").fill("Rent help")
    await dialog.get_by_role("button", name="Save changes").click()
    await expect(saved).to_have_text("Saved “Rent help”.")
    await dialog.get_by_role("button", name="Delete “Rent help”").click()
    await expect(saved).to_have_text("Deleted “Rent help”.")
    await expect(dialog.get_by_text("You have no replies of your own yet.")).to_be_visible()
    await dialog.get_by_role("button", name="Close").click()
    await box.click()
    await monitor.keyboard.type("/")
    await expect(picker(entry).get_by_role("option")).to_have_text([re.compile("^Office times")])


async def test_the_picker_matches_text_any_case_closes_on_escape_and_fills_in_there(
        live_server, new_context) -> None:
    store = live_server.services.store
    await store.save_canned_reply(CannedReply("Opening hours", "We answer from 9 to 5, {first_name}."))
    await store.save_canned_reply(CannedReply("Documents", "Please bring your ID and PAYSLIPS."))
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    visitor = await Visitor.start(live_server)  # anonymous: {first_name} is "there"
    await go_available(monitor)
    await visitor.activate()
    entry = entries(monitor).first
    await open_entry(entry)
    box = composer(entry)
    options = picker(entry).get_by_role("option")
    await box.click()

    await monitor.keyboard.type("/PaySl")  # a word of the text, in another case
    await expect(options).to_have_count(1)
    await expect(options.first).to_contain_text("Documents")
    await monitor.keyboard.press("Escape")  # closes the list, keeps what was typed
    await expect(picker(entry)).to_be_hidden()
    await expect(box).to_have_value("/PaySl")
    await expect(box).to_be_focused()
    await monitor.keyboard.type("ips")  # the same "/word": the list stays closed
    await expect(picker(entry)).to_be_hidden()

    await box.fill("")
    await monitor.keyboard.type("so/op")  # a "/" inside a word is no look-up
    await expect(picker(entry)).to_be_hidden()
    await monitor.keyboard.type(" /op")
    await expect(options).to_have_count(1)
    await monitor.keyboard.press("Enter")  # nothing highlighted: the first, as listed on top
    await expect(box).to_have_value("so/op We answer from 9 to 5, there.")
    await box.fill("")
    await monitor.keyboard.type("/")  # a "/" alone lists every reply, by title
    await expect(options).to_have_count(2)
    await expect(options.nth(0)).to_contain_text("Documents")
    await monitor.keyboard.press("ArrowUp")  # from none highlighted: the last
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await monitor.keyboard.press("Tab")  # leaving the box closes the list
    await expect(picker(entry)).to_be_hidden()


async def test_a_shared_reply_added_on_the_admin_page_reaches_an_open_monitors_picker(
        live_server, new_context) -> None:
    await live_server.add_user("root@example.com", ("admin",))
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    visitor = await Visitor.start(live_server)
    await go_available(monitor)
    await visitor.activate()
    entry = entries(monitor).first
    await open_entry(entry)

    admin = await (await new_context(viewport=LAPTOP)).new_page()
    await sign_in(admin, live_server, "root@example.com")
    await admin.get_by_role("link", name="Shared replies").click()
    await expect(admin.get_by_role("heading", name="Shared replies", level=1)).to_be_visible()
    await expect(admin.get_by_text("No shared reply yet.")).to_be_visible()
    await assert_no_violations(admin, "admin/replies, empty")
    await admin.get_by_label("Title").fill(f"Tax advice {XSS}")
    await admin.get_by_label("Text").fill("For {interview}, ask a tax adviser.\nThey are free.")
    await admin.get_by_role("button", name="Add reply").click()
    await expect(admin.get_by_role("status")).to_have_text(
        f"Saved “Tax advice {XSS}”. Every Monitor offers it now.")
    await expect(admin.get_by_role("heading", name=f"Tax advice {XSS}", level=3)).to_be_visible()
    await expect(admin.locator(".reply-text")).to_have_text(
        "For {interview}, ask a tax adviser.\nThey are free.")
    await assert_no_violations(admin, "admin/replies with a reply")
    await shoot(admin, "admin-replies")
    await admin.set_viewport_size(PHONE)
    await assert_no_violations(admin, "admin/replies on a phone")
    await shoot(admin, "admin-replies-phone")

    await composer(entry).click()
    await monitor.keyboard.type("/tax")
    option = picker(entry).get_by_role("option")
    await expect(option).to_have_count(1)
    await expect(option).to_contain_text(f"Tax advice {XSS}")
    await expect(option).to_contain_text("shared")
    await expect(option).to_contain_text("For Housing benefit application, ask a tax adviser.")
    assert await monitor.locator("#sessions img").count() == 0
    await shoot(monitor, "picker-shared")

    # Deleted on the admin page: gone from the open picker at once.
    await admin.get_by_role("button", name=f"Delete “Tax advice {XSS}”").click()
    await expect(admin.get_by_role("status")).to_have_text(f"Deleted “Tax advice {XSS}”.")
    await expect(picker(entry)).to_be_hidden()


async def test_a_note_by_olga_is_seen_by_bob_after_a_transfer(live_server, new_context) -> None:
    olga = await open_operator(new_context, live_server, viewport=LAPTOP)
    visitor = await Visitor.start(live_server)
    await go_available(olga)
    await visitor.activate()  # Olga's: she is the only one available
    await visitor.says("I need to appeal a decision")
    bob = await open_operator(new_context, live_server, "bob@example.com", "Bob", viewport=LAPTOP)
    await go_available(bob)

    at_olga = entries(olga).first
    await open_entry(at_olga)
    notes_button = at_olga.get_by_role("button", name=re.compile("^Notes for operators on "))
    await expect(notes_button).to_have_attribute("aria-expanded", "false")
    await notes_button.click()
    note_box = at_olga.get_by_role("textbox", name="Add a note for operators")
    await expect(note_box).to_be_focused()
    await expect(at_olga.get_by_text("No notes yet.")).to_be_visible()
    await olga.keyboard.type(f"Letter dated 3 May; {XSS}")
    await olga.keyboard.press("Enter")
    notes = at_olga.locator(".note")
    await expect(notes.locator(".note-text")).to_have_text([f"Letter dated 3 May; {XSS}"])
    await expect(note_box).to_have_value("")
    await expect(notes_button).to_have_text(re.compile(r"^Notes for operators on .* \(1\)$"))

    await at_olga.get_by_role("button", name=re.compile("^Transfer the chat with ")).click()
    dialog = olga.get_by_role("dialog", name=re.compile("^Transfer the chat with "))
    await dialog.get_by_role("radio", name=re.compile("^Bob")).check()
    await dialog.get_by_role("button", name="Transfer").click()
    await expect(dialog).to_be_hidden()

    at_bob = entries(bob).first
    await expect(at_bob.locator(".entry-marker")).to_have_text("Mine")
    section = at_bob.get_by_role("region", name=re.compile("^Notes for operators"))
    await expect(section).to_be_visible()  # the session has notes: unfolded for Bob
    note = section.locator(".note")
    await expect(note.locator(".note-author")).to_have_text("Olga")
    await expect(note.locator(".note-text")).to_have_text(f"Letter dated 3 May; {XSS}")
    assert await bob.locator("#sessions img").count() == 0
    await shoot(bob, "note-after-transfer")
    await bob.set_viewport_size(PHONE)
    await assert_no_violations(bob, "Monitor with notes, on a phone")
    await shoot(bob, "note-phone")

    # Bob answers with a note of his own: Olga's Monitor has it at once.
    await section.get_by_role("textbox", name="Add a note for operators").fill("Called the council")
    await section.get_by_role("button", name="Add note").click()
    await expect(notes.locator(".note-author")).to_have_text(["Olga", "Bob"])
