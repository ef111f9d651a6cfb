"""The Monitor's attention, in Chromium (issue 14): unread state that is true per
operator across reloads and colleagues, the notice and entries that open by
themselves, the keyboard path and focus after actions, what a screen reader hears,
and one entry per shared session."""

from __future__ import annotations

import json
import re

from playwright.async_api import expect

from tests.browser.monitor_visitors import LAPTOP, Colleague, Visitor, entry_of, many
from tests.browser.test_monitor_chat import (
    composer,
    entries,
    go_available,
    open_entry,
    open_operator,
    toggle,
)


# ---------------------------------------------------------------------------- unread
async def test_unread_is_true_across_a_reload_and_between_operators(live_server, new_context) -> None:
    olga = await open_operator(new_context, live_server, viewport=LAPTOP)
    pavel = await open_operator(new_context, live_server, "pavel@example.com", "Pavel", viewport=LAPTOP)
    olga_again = await olga.context.new_page()  # Olga's second tab
    await olga_again.goto(live_server.url("monitor"))
    ann, ben, cleo = await many(live_server, 3)
    await go_available(pavel)  # every chat is Pavel's; Olga watches
    for visitor in (ann, ben, cleo):
        await visitor.activate()
    await ann.says("Ann asks once")
    await ben.says("Ben asks")
    await ben.says("Ben asks again")
    await cleo.says("Cleo asks")
    for page in (olga, olga_again):
        await expect(entry_of(page, ann).locator(".entry-unread")).to_have_text("1 unread")
        await expect(entry_of(page, ben).locator(".entry-unread")).to_have_text("2 unread")
        await expect(page).to_have_title("(4) Monitor")
    # Pavel answers Ann: answered for the team, on every Monitor.
    pavel_ann = entry_of(pavel, ann)
    await open_entry(pavel_ann)
    await composer(pavel_ann).fill("Pavel here, Ann")
    await composer(pavel_ann).press("Enter")
    await expect(entry_of(olga, ann).locator(".entry-unread")).to_be_hidden()
    # Olga reads Ben: read for Olga, in both her tabs; still unread for Pavel's colleagues.
    await open_entry(entry_of(olga, ben))
    for page in (olga, olga_again):
        await expect(entry_of(page, ben).locator(".entry-unread")).to_be_hidden()
        await expect(page).to_have_title("(1) Monitor")
    await olga.reload()
    await expect(entry_of(olga, cleo).locator(".entry-unread")).to_have_text("1 unread")
    await expect(olga.locator(".entry-unread:not([hidden])")).to_have_count(1)
    await expect(olga).to_have_title("(1) Monitor")
    # A fresh Monitor of a third operator: what the team has not answered, all of it.
    sam = await open_operator(new_context, live_server, "sam@example.com", "Sam", viewport=LAPTOP)
    await expect(entry_of(sam, ben).locator(".entry-unread")).to_have_text("2 unread")
    await expect(entry_of(sam, ann).locator(".entry-unread")).to_be_hidden()
    await expect(sam).to_have_title("(3) Monitor")


async def test_the_notice_goes_to_the_newest_unread_entry(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport={"width": 1366, "height": 420})
    await Colleague.start(live_server)
    visitors = await many(live_server, 14)
    await expect(entries(monitor)).to_have_count(14)
    older, newest = visitors[3], visitors[9]
    for visitor in (older, newest):
        await visitor.activate()
    await monitor.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    await older.says("first")
    await newest.says("second")
    notice = monitor.get_by_role("button", name="New message above ↑")
    await expect(notice).to_be_visible()
    # It sits in the header band, over no entry.
    head = await monitor.locator("#console-head").bounding_box()
    box = await notice.bounding_box()
    assert head["y"] <= box["y"] and box["y"] + box["height"] <= head["y"] + head["height"]
    await notice.click()
    target = entry_of(monitor, newest)
    await expect(toggle(target)).to_have_attribute("aria-expanded", "true")
    await expect(target.locator(".entry-panel")).to_be_in_viewport()
    await expect(target.locator(".entry-unread")).to_be_hidden()  # focus in its box: read
    assert await target.evaluate("(li) => li.contains(document.activeElement) && document.activeElement.tagName") == "TEXTAREA"
    await expect(entry_of(monitor, older).locator(".entry-unread")).to_have_text("1 unread")


async def test_an_entry_opens_by_itself_when_its_chat_comes_to_me(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    first, second = await many(live_server, 2)
    await expect(entries(monitor)).to_have_count(2)
    await go_available(monitor)
    await first.activate()
    await expect(toggle(entry_of(monitor, first))).to_have_attribute("aria-expanded", "true")
    await expect(toggle(entry_of(monitor, second))).to_have_attribute("aria-expanded", "false")
    await toggle(entry_of(monitor, first)).click()  # closed by hand: it stays closed
    await first.ws.write_message(json.dumps({"type": "deactivate"}))
    await expect(entry_of(monitor, first).locator(".indicator")).to_have_text("standby")
    await first.activate()
    await second.activate()  # the sentinel: opens by itself
    await expect(toggle(entry_of(monitor, second))).to_have_attribute("aria-expanded", "true")
    await expect(entry_of(monitor, first).locator(".indicator")).to_have_text("on")
    await expect(toggle(entry_of(monitor, first))).to_have_attribute("aria-expanded", "false")
    # A reload opens my chats from the snapshot, before their rows are first drawn.
    await monitor.reload()
    await expect(entry_of(monitor, second).locator(".entry-panel")).to_be_visible()
    await expect(toggle(entry_of(monitor, second))).to_have_attribute("aria-expanded", "true")


# ---------------------------------------------------------------------------- keyboard, focus
async def test_the_keyboard_path_to_the_next_unread_and_back(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    await Colleague.start(live_server, available=False)
    _quiet, asking = await many(live_server, 2)
    await expect(entries(monitor)).to_have_count(2)
    await go_available(monitor)
    await asking.activate()
    entry = entry_of(monitor, asking)
    await toggle(entry).click()  # closed: what comes now stays unread
    await asking.says("Anyone there?")
    await expect(entry.locator(".entry-unread")).to_have_text("1 unread")
    await expect(monitor.get_by_text("Alt+N")).to_be_hidden()
    await monitor.get_by_role("button", name="Keyboard shortcuts").click()
    await expect(monitor.locator("#keys-panel")).to_contain_text("Next session that needs an answer")
    await monitor.keyboard.press("Escape")
    await monitor.keyboard.press("Alt+KeyN")
    await expect(toggle(entry)).to_be_focused()
    await expect(toggle(entry)).to_have_attribute("aria-expanded", "true")
    await expect(entry.locator(".entry-unread")).to_be_hidden()
    await monitor.keyboard.press("Enter")
    await expect(composer(entry)).to_be_focused()
    await monitor.keyboard.type("Yes, here.")
    await monitor.keyboard.press("Enter")
    await expect(entry.locator(".chat-message.mine .chat-text")).to_have_text("Yes, here.")
    await monitor.keyboard.press("Escape")
    await expect(toggle(entry)).to_be_focused()
    await monitor.keyboard.press("Alt+KeyC")
    await expect(composer(entry)).to_be_focused()
    await monitor.keyboard.press("/")  # typing in a box: a slash is a slash
    await expect(composer(entry)).to_have_value("/")
    await monitor.keyboard.press("Escape")
    await monitor.keyboard.press("/")
    await expect(monitor.get_by_role("searchbox", name="Search sessions")).to_be_focused()


async def test_focus_after_observe_stop_and_block(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    visitor = await Visitor.start(live_server)
    await visitor.ws.write_message(json.dumps({"type": "screen", "screen": "about", "values": {}}))
    entry = entries(monitor).first
    await open_entry(entry)
    observe = entry.get_by_role("button", name="Observe")
    await observe.focus()
    await monitor.keyboard.press("Enter")
    heading = entry.get_by_role("heading", name=re.compile("Viewing the user's screen"))
    await expect(heading).to_be_focused()
    stop = entry.get_by_role("button", name="Stop observing")
    await stop.focus()
    await monitor.keyboard.press("Enter")
    await expect(observe).to_be_focused()
    block = entry.get_by_role("button", name="Block", exact=True)
    await block.focus()
    await monitor.keyboard.press("Enter")
    unblock = entry.get_by_role("button", name="Unblock", exact=True)
    await expect(unblock).to_be_focused()
    await expect(entry.locator(".badge-blocked")).to_be_visible()
    await monitor.keyboard.press("Enter")
    await expect(entry.get_by_role("button", name="Block", exact=True)).to_be_focused()
    await expect(entry.locator(".badge-blocked")).to_be_hidden()


# ---------------------------------------------------------------------------- screen readers
# Everything the Monitor's live region and one entry's chat list go through, as it happens.
RECORD = """() => {
  window.said = [];
  const region = document.getElementById("announcer");
  new MutationObserver(() => window.said.push(region.textContent))
    .observe(region, { childList: true, characterData: true, subtree: true });
}"""
WATCH_LOG = """(list) => {
  if (window.logObserver) window.logObserver.disconnect();
  window.logChanges = { added: 0, removed: 0 };
  window.logObserver = new MutationObserver((records) => {
    for (const record of records) {
      window.logChanges.added += [...record.addedNodes].filter((n) => n.nodeName === "LI").length;
      window.logChanges.removed += [...record.removedNodes].filter((n) => n.nodeName === "LI").length;
    }
  });
  window.logObserver.observe(list, { childList: true, subtree: true, characterData: true });
}"""


async def test_one_live_region_says_each_change_once(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    pavel = await Colleague.start(live_server)
    await monitor.evaluate(RECORD)
    ann = await Visitor.start(live_server)
    label = await entries(monitor).first.locator(".entry-user").text_content()
    await expect(monitor.locator("#announcer")).to_have_text(
        f"New session: {label}, Housing benefit application.")
    await ann.activate()
    await expect(monitor.locator("#announcer")).to_have_text(f"{label}: on.")
    await ann.says("one")
    await expect(monitor.locator("#announcer")).to_have_text(f"{label}: 1 unread.")
    # The page moves on (the entry changes, its status does not), Pavel answers:
    # nothing new to say.
    await ann.ws.write_message(json.dumps({"type": "hello", "last_seq": 1, "screen": "Your household"}))
    await expect(entries(monitor).first.locator(".entry-screen")).to_have_text("Your household")
    await pavel.says(ann, "answered")
    await expect(entries(monitor).first.locator(".entry-unread")).to_be_hidden()
    said = await monitor.evaluate("window.said")
    assert said == [f"New session: {label}, Housing benefit application.", f"{label}: on.",
                    f"{label}: 1 unread."], said
    assert await monitor.locator("[aria-live]:not(#announcer):not(#connection):not(#phone-message)").count() == 0
    assert await monitor.locator("[role=status]:not(#connection):not(#phone-message)").count() == 0


async def test_changes_in_one_frame_are_said_in_one_sentence(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    visitors = await many(live_server, 2)
    await expect(entries(monitor)).to_have_count(2)
    await monitor.evaluate(RECORD)
    # Going available turns both entries from waiting to standby in one snapshot frame.
    await go_available(monitor)
    await expect(monitor.locator("#counts")).to_have_text("2 sessions: 2 standby")
    said = await monitor.evaluate("window.said")
    labels = [await entry_of(monitor, v).locator(".entry-user").text_content() for v in visitors]
    assert said == [f"{labels[0]}: standby; {labels[1]}: standby."] or said == [
        f"{labels[1]}: standby; {labels[0]}: standby."], said


async def test_a_new_message_adds_one_item_and_a_status_change_none(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    visitor = await Visitor.start(live_server)
    await expect(entries(monitor)).to_have_count(1)
    await go_available(monitor)
    await visitor.activate()
    for text in ("one", "two", "three", "four"):
        await visitor.says(text)
    entry = entries(monitor).first
    log = entry.get_by_role("log", name=re.compile("^Conversation with Visitor "))
    await expect(log.locator(".chat-message")).to_have_count(4)
    assert await log.locator("ol.chat-messages").get_attribute("aria-live") is None
    await log.locator("ol").evaluate(WATCH_LOG)
    await visitor.says("five")
    await expect(log.locator(".chat-message")).to_have_count(5)
    assert await monitor.evaluate("window.logChanges") == {"added": 1, "removed": 0}
    await log.locator("ol").evaluate(WATCH_LOG)
    await monitor.get_by_role("button", name="Available for chat", exact=True).click()
    await expect(monitor.get_by_role("button", name="Not available for chat", exact=True)).to_be_visible()
    await monitor.get_by_role("button", name="Not available for chat", exact=True).click()
    await expect(monitor.get_by_role("button", name="Available for chat", exact=True)).to_be_visible()
    await visitor.says("six")  # the sentinel: one more item, and only that
    await expect(log.locator(".chat-message")).to_have_count(6)
    assert await monitor.evaluate("window.logChanges") == {"added": 1, "removed": 0}


# ---------------------------------------------------------------------------- shared sessions
async def test_a_peerhelp_session_is_one_entry_with_its_people(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    alice = await Visitor.start(live_server, "peerhelp", mode="peerhelp")
    bob = await Visitor.start(live_server, record=alice.record)
    await expect(entries(monitor)).to_have_count(1)
    entry = entries(monitor).first
    await expect(entry.locator(".entry-user")).to_have_text(re.compile(r"^Visitor \w+ and Visitor \w+$"))
    await go_available(monitor)
    for person in (alice, bob):
        await person.activate()
    await open_entry(entry)
    await expect(entry.locator(".participants")).to_have_text(
        re.compile(r"^In this session: Visitor \w+ \(on\), Visitor \w+ \(on\)$"))
    await alice.says("from Alice")
    await bob.says("from Bob")
    await expect(entry.locator(".chat-name")).to_have_text(["Participant 1", "Participant 2"])
    await entry.get_by_role("button", name="Block", exact=True).click()
    await expect(entries(monitor)).to_have_count(1)
    await expect(entry.locator(".badge-blocked")).to_be_visible()


async def test_peer_messages_need_no_operator(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    alice = await Visitor.start(live_server, "peer", mode="peer")
    bob = await Visitor.start(live_server, record=alice.record)
    for person in (alice, bob):
        await person.activate()
    await alice.says("just between us")
    # No operator answers in peer mode: the entry carries the message, answered already.
    await monitor.reload()
    peer = entries(monitor).first
    await expect(peer.locator(".entry-preview")).to_have_text(re.compile("just between us$"))
    await expect(peer.locator(".entry-unread")).to_be_hidden()
    await expect(peer).not_to_have_class(re.compile(r"\bunread\b"))
    await expect(monitor).to_have_title("Monitor")
