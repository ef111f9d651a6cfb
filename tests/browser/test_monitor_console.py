"""The Monitor as an operator's console (issue 14), in Chromium: what fits a laptop
screen, the order, search, filters and counts, the offline group, unread state that
is true per operator across reloads and colleagues, the keyboard path, focus after
actions, what a screen reader hears, one entry per shared session, and a bounded DOM
with many sessions.

Sessions are made cheaply, without a browser each: a session record in the store and
an interviewee socket opened with that browser's cookies (`Visitor`)."""

from __future__ import annotations

import itertools
import json
import re

import msgspec
from playwright.async_api import Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeout

from state.store.base import SessionRecord, new_id
from tests.browser.conftest import SCREENS
from tests.browser.test_monitor_chat import (
    composer,
    entries,
    go_available,
    open_entry,
    open_operator,
    toggle,
)
from tests.conftest import receive

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
HOUSING = "cobrowse_demo"  # "Housing benefit application", help mode, role "advocate"
FRUIT = "fruit"  # "Favorite foods"-like demo, help mode, role "advocate"
_client_ids = itertools.count(1)


class Visitor:
    """One interviewee with live help on, as a bare socket: what a browser sends."""

    def __init__(self, live_server, record: SessionRecord, ws, key_hint: str) -> None:
        self.live_server = live_server
        self.record = record
        self.ws = ws
        self.browser = key_hint

    @classmethod
    async def start(cls, live_server, interview: str = HOUSING, *, mode: str = "help",
                    roles: tuple[str, ...] = ("advocate",), screen: str | None = None,
                    user=None, record: SessionRecord | None = None) -> Visitor:
        """A new session of `interview` (or one more person in `record`) whose page is
        open: its socket said hello (with `screen`), signed in as `user` when given."""
        store = live_server.services.store
        if record is None:
            record = SessionRecord(id=new_id(), interview=interview, live_help={
                "availability": "available", "mode": mode, "partner_roles": list(roles)})
            await store.save_session(record)
        browser = new_id()
        cookies = [live_server.cookie_for("lh_sessions", json.dumps({record.interview: record.id})),
                   live_server.cookie_for("lh_browser", browser)]
        if user is not None:
            cookies.append(await live_server.user_cookie(user))
        ws = await live_server.websocket(f"ws/user/{record.id}", "; ".join(cookies))
        await receive(ws, "state")
        hello = {"type": "hello", "last_seq": 0}
        if screen:
            hello["screen"] = screen
        await ws.write_message(json.dumps(hello))
        await receive(ws, "state")
        return cls(live_server, record, ws, browser)

    async def activate(self) -> None:
        await self.ws.write_message(json.dumps({"type": "activate"}))
        while not (await receive(self.ws, "state"))["active"]:
            pass

    async def says(self, text: str) -> int:
        """Send a chat message; its seq once stored."""
        client_id = f"v-{next(_client_ids)}"
        await self.ws.write_message(json.dumps({"type": "chat", "client_id": client_id, "text": text}))
        while True:
            message = await receive(self.ws)
            if message["type"] == "ack" and message["client_id"] == client_id:
                return message["seq"]
            assert message["type"] != "error", message

    def leave(self) -> None:
        self.ws.close()


class Colleague:
    """Another operator, as a bare Monitor socket: available for "advocate"."""

    def __init__(self, ws) -> None:
        self.ws = ws

    @classmethod
    async def start(cls, live_server, email: str = "pavel@example.com", available: bool = True) -> Colleague:
        user = await live_server.add_user(email, ("advocate",), first_name="Pavel")
        ws = await live_server.websocket("ws/monitor", await live_server.user_cookie(user))
        await receive(ws, "monitor")
        await ws.write_message(json.dumps({"type": "set_roles", "roles": ["advocate"]}))
        if available:
            await ws.write_message(json.dumps({"type": "set_status", "available": True}))
        colleague = cls(ws)
        await colleague.settled()
        return colleague

    async def settled(self) -> dict:
        """A fresh snapshot, once everything sent before has been handled: the socket
        answers frames in order, so the refusal of a made-up type comes after it."""
        await self.ws.write_message(json.dumps({"type": "hello", "last_seq": {}}))
        await self.ws.write_message(json.dumps({"type": "sentinel"}))
        snapshot = None
        while True:
            message = await receive(self.ws)
            if message["type"] == "monitor":
                snapshot = message
            elif message["type"] == "error" and message.get("ref") == "sentinel":
                return snapshot

    async def entry_of(self, visitor: Visitor) -> dict:
        snapshot = await self.settled()
        return next(e for e in snapshot["sessions"] if e["session"] == visitor.record.id)

    async def says(self, visitor: Visitor, text: str) -> None:
        entry = await self.entry_of(visitor)
        client_id = f"p-{next(_client_ids)}"
        await self.ws.write_message(json.dumps(
            {"type": "chat", "session": entry["key"], "client_id": client_id, "text": text}))
        while True:
            message = await receive(self.ws)
            if message["type"] == "ack" and message["client_id"] == client_id:
                return
            assert message["type"] != "error", message

    async def block(self, visitor: Visitor) -> None:
        entry = await self.entry_of(visitor)
        await self.ws.write_message(json.dumps({"type": "block", "session": entry["key"]}))
        await self.settled()


def entry_of(monitor: Page, visitor: Visitor):
    """The Monitor entry of `visitor`'s session (help mode: its client key is the id)."""
    return monitor.locator(f'#sessions > li.entry[data-id^="{visitor.record.id}"]')


DRAWN_IDS = "() => [...document.querySelectorAll('#sessions > li.entry')].map((li) => li.dataset.id.split('|')[0])"


async def expect_drawn(monitor: Page, visitors: list[Visitor]) -> None:
    """The list draws exactly these sessions' entries, in this order (waits for it)."""
    wanted = [visitor.record.id for visitor in visitors]
    try:
        await monitor.wait_for_function(f"(wanted) => JSON.stringify(({DRAWN_IDS})()) === JSON.stringify(wanted)",
                                        arg=wanted, timeout=5000)
    except PlaywrightTimeout:
        drawn = await monitor.evaluate(DRAWN_IDS)
        names = {visitor.record.id: n for n, visitor in enumerate(visitors)}
        raise AssertionError(f"drawn {[names.get(i, i) for i in drawn]}, wanted {list(range(len(wanted)))}") from None


async def fully_visible(monitor: Page, locator) -> bool:
    """Entirely inside the window and below the sticky header band."""
    return await locator.evaluate("""(element) => {
      const box = element.getBoundingClientRect();
      const top = document.getElementById("console-head").getBoundingClientRect().bottom;
      return box.height > 0 && box.top >= top - 1 && box.bottom <= window.innerHeight + 1;
    }""")


async def many(live_server, count: int, **options) -> list[Visitor]:
    return [await Visitor.start(live_server, **options) for _ in range(count)]


# ---------------------------------------------------------------------------- layout
async def test_fifteen_sessions_show_at_least_twelve_whole_rows_at_1366(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    await many(live_server, 15, screen="About you")
    await expect(entries(monitor)).to_have_count(15)
    await expect(monitor.locator("#counts")).to_have_text("15 sessions: 15 waiting")
    visible = [await fully_visible(monitor, entries(monitor).nth(n)) for n in range(15)]
    assert sum(visible) >= 12, visible
    heights = await entries(monitor).evaluate_all("items => items.map((li) => li.offsetHeight)")
    assert max(heights) <= 44, heights
    # The settings are one line, and so is each part of the second line.
    for line in (".head-line.settings", ".head-line.tools"):
        assert await monitor.locator(line).evaluate("(e) => e.offsetHeight") <= 44, line


async def test_three_open_chats_show_their_last_messages_and_composers_together(
        live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    visitors = await many(live_server, 6)
    await expect(entries(monitor)).to_have_count(6)
    await go_available(monitor)
    chatting = visitors[:3]
    for n, visitor in enumerate(chatting):
        await visitor.activate()
        for line in range(6):
            await visitor.says(f"visitor {n} line {line}")
    for n, visitor in enumerate(chatting):
        entry = entry_of(monitor, visitor)
        await expect(toggle(entry)).to_have_attribute("aria-expanded", "true")  # mine: opened by itself
        await expect(entry.locator(".chat-text").last).to_have_text(f"visitor {n} line 5")
    await entry_of(monitor, chatting[0]).evaluate("(li) => li.scrollIntoView({block: 'start'})")
    await monitor.evaluate("window.scrollBy(0, -document.getElementById('console-head').offsetHeight - 8)")
    for visitor in chatting:
        entry = entry_of(monitor, visitor)
        assert await fully_visible(monitor, entry.locator(".chat-message").last)
        assert await fully_visible(monitor, composer(entry))


async def test_the_composer_grows_from_one_line_to_six(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    visitor = await Visitor.start(live_server)
    await expect(entries(monitor)).to_have_count(1)
    await go_available(monitor)
    await visitor.activate()
    box = composer(entries(monitor).first)
    await expect(box).to_have_attribute("rows", "1")
    one = (await box.bounding_box())["height"]
    await box.fill("line\n" * 3 + "line")
    four = (await box.bounding_box())["height"]
    await box.fill("line\n" * 20)
    most = (await box.bounding_box())["height"]
    assert one < four < most
    assert most < one * 6 + 4 and most > one * 4, (one, four, most)
    assert await box.evaluate("(e) => getComputedStyle(e).overflowY") == "auto"


# ---------------------------------------------------------------------------- order
async def test_entries_that_need_an_answer_come_first(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    pavel = await Colleague.start(live_server)
    standby = await Visitor.start(live_server)
    on = await Visitor.start(live_server)
    unread = await Visitor.start(live_server)
    seen = await Visitor.start(live_server)
    blocked = await Visitor.start(live_server)
    gone = await Visitor.start(live_server)
    for visitor in (on, unread, seen):
        await visitor.activate()  # Pavel's chats: Olga is not available
    await seen.says("I asked first")
    await unread.says("I asked second")
    await pavel.block(blocked)
    gone.leave()
    await expect(monitor.locator(".offline-toggle")).to_have_text("Offline (1)")
    # Olga has seen "I asked first": it still waits for the team, but is read for her.
    await open_entry(entry_of(monitor, seen))
    await expect(entry_of(monitor, seen).locator(".entry-unread")).to_be_hidden()
    await toggle(entry_of(monitor, seen)).click()  # closed again; focus leaves the list
    await monitor.locator("#search").focus()
    await expect_drawn(monitor, [unread, seen, on, standby, blocked])
    await expect(entry_of(monitor, unread).locator(".entry-unread")).to_have_text("1 unread")
    await expect(entry_of(monitor, seen).locator(".entry-time")).to_have_text(re.compile(r"^waiting "))


async def test_reordering_never_moves_the_entry_being_typed_in(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    await Colleague.start(live_server)  # the chats are Pavel's: Olga is not available
    visitors = await many(live_server, 4)
    for visitor in visitors:
        await visitor.activate()
    await expect(entries(monitor)).to_have_count(4)
    first = visitors[0]
    entry = entry_of(monitor, first)
    await open_entry(entry)
    await entry.get_by_role("button", name="Take over").click()
    box = composer(entry)
    await expect(box).to_be_focused()
    await expect(entry.locator(".entry-marker")).to_have_text("Mine")
    await box.press_sequentially("half a sentence")
    where = "(li) => [li.getBoundingClientRect().top, [...li.parentNode.children].indexOf(li)]"
    before = await entry.evaluate(where)
    await visitors[2].says("I need help now")  # that entry now belongs at the top
    await expect(entry_of(monitor, visitors[2]).locator(".entry-unread")).to_have_text("1 unread")
    assert await entry.evaluate(where) == before
    await expect(box).to_be_focused()
    await expect(box).to_have_value("half a sentence")
    await monitor.locator("#search").focus()  # focus leaves the entry: the list sorts
    await expect_drawn(monitor, [visitors[n] for n in (2, 0, 1, 3)])


# ---------------------------------------------------------------------------- search, filters
async def test_search_finds_name_email_interview_screen_and_role(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    ann = await live_server.add_user("ann.lee@example.org", ("user",), first_name="Ann", last_name="Lee")
    named = await Visitor.start(live_server, user=ann)
    housing = await Visitor.start(live_server, screen="Protect your application")
    fruit = await Visitor.start(live_server, FRUIT)
    family = await Visitor.start(live_server, roles=("family law",))
    await expect(entries(monitor)).to_have_count(4)
    search = monitor.get_by_role("searchbox", name="Search sessions")
    for words, found in (("ann lee", named), ("ANN.LEE@example", named), ("protect your", housing),
                         ("family LAW", family)):
        await search.fill(words)
        await expect_drawn(monitor, [found])
    fruit_title = await monitor.evaluate(
        f"document.querySelector('li.entry[data-id^=\"{fruit.record.id}\"] .entry-title')")
    assert fruit_title is None  # searched out: not drawn at all
    await search.fill("")
    await expect(entries(monitor)).to_have_count(4)
    title = await entry_of(monitor, fruit).locator(".entry-title").text_content()
    await search.fill(title.upper())
    await expect_drawn(monitor, [fruit])
    await search.fill("nobody like this")
    await expect(entries(monitor)).to_have_count(0)
    await expect(monitor.locator("#sessions-unmatched")).to_be_visible()


async def test_filters_mine_unread_and_waiting(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    pavel = await Colleague.start(live_server, available=False)
    idle, mine, pavels = await many(live_server, 3)
    await expect(entries(monitor)).to_have_count(3)
    await go_available(monitor)
    await mine.activate()  # Olga's: she is the only one available
    await expect(entry_of(monitor, mine).locator(".entry-marker")).to_have_text("Mine")
    await pavel.ws.write_message(json.dumps({"type": "set_status", "available": True}))
    await pavel.settled()
    await pavels.activate()  # Pavel's: he has fewer chats
    await expect(entry_of(monitor, pavels).locator(".entry-marker")).to_have_text("Taken by Pavel")
    await pavels.says("A question for Pavel")
    await expect(entry_of(monitor, pavels).locator(".entry-unread")).to_have_text("1 unread")
    buttons = {name: monitor.get_by_role("button", name=name, exact=True) for name in ("Mine", "Unread", "Waiting")}
    for name, shown in (("Mine", [mine]), ("Unread", [pavels]), ("Waiting", [pavels])):
        await buttons[name].click()
        await expect(buttons[name]).to_have_attribute("aria-pressed", "true")
        await expect_drawn(monitor, shown)
        await buttons[name].click()
        await expect(buttons[name]).to_have_attribute("aria-pressed", "false")
    await expect_drawn(monitor, [pavels, mine, idle])


async def test_counts_say_how_many_sessions_per_status(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    await expect(monitor.locator("#counts")).to_have_text("No sessions")
    visitors = await many(live_server, 4)
    await expect(monitor.locator("#counts")).to_have_text("4 sessions: 4 waiting")
    await go_available(monitor)
    await expect(monitor.locator("#counts")).to_have_text("4 sessions: 4 standby")
    await visitors[0].activate()
    visitors[1].leave()
    await expect(monitor.locator("#counts")).to_have_text("4 sessions: 1 on · 2 standby · 1 offline")


async def test_offline_entries_fold_into_a_closed_group_at_the_end(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    staying, leaving, also_leaving = await many(live_server, 3)
    await expect(entries(monitor)).to_have_count(3)
    leaving.leave()
    also_leaving.leave()
    group = monitor.get_by_role("button", name="Offline (2)")
    await expect(group).to_have_attribute("aria-expanded", "false")
    await expect_drawn(monitor, [staying])
    await group.click()
    await expect(group).to_have_attribute("aria-expanded", "true")
    await expect(entries(monitor)).to_have_count(3)
    offline = entries(monitor).filter(has=monitor.locator(".indicator", has_text="offline"))
    await expect(offline).to_have_count(2)
    assert await monitor.evaluate("""() => {
      const items = [...document.querySelectorAll("#sessions > li")];
      const group = items.findIndex((li) => li.classList.contains("offline-group"));
      return group === 1 && items.slice(group + 1).every((li) => li.classList.contains("status-offline"));
    }""")


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


# ---------------------------------------------------------------------------- scale
async def test_many_sessions_keep_the_page_small(live_server, config, new_context) -> None:
    config.limits = msgspec.structs.replace(config.limits, sockets_per_address=1000)
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    visitors = await many(live_server, 200)
    await expect(monitor.locator("#counts")).to_have_text("200 sessions: 200 waiting")
    await expect(entries(monitor)).to_have_count(100)
    assert await monitor.evaluate("document.getElementsByTagName('*').length") < 3000
    assert await monitor.locator(".entry-panel").count() == 0  # built when first opened
    more = monitor.get_by_role("button", name=re.compile(r"^Show 100 more"))
    await more.click()
    await expect(entries(monitor)).to_have_count(200)
    await expect(more).to_be_hidden()
    await expect(entries(monitor).nth(100).locator(".entry-toggle")).to_be_focused()
    await visitors[150].ws.write_message(json.dumps({"type": "screen", "screen": "about", "values": {}}))
    assert await monitor.evaluate("document.getElementsByTagName('*').length") < 5000


async def test_history_is_asked_for_when_an_entry_first_opens(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    pavel = await Colleague.start(live_server)
    sent: list[dict] = []
    monitor.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))))
    visitors = await many(live_server, 3)
    for visitor in visitors:
        await visitor.activate()
        await visitor.says("hello")
    await monitor.reload()
    await expect(entries(monitor).locator(".entry-preview")).to_have_count(3)
    await expect(entries(monitor).locator(".entry-preview")).to_have_text([re.compile("hello$")] * 3)
    assert await monitor.locator(".chat-message").count() == 0
    hellos = [m for m in sent if m["type"] == "hello"]
    assert hellos == [{"type": "hello", "last_seq": {}}]
    entry = entry_of(monitor, visitors[1])
    await open_entry(entry)
    await expect(entry.locator(".chat-text")).to_have_text(["hello"])
    conversation = (await pavel.entry_of(visitors[1]))["conversation"]
    assert [m for m in sent if m["type"] == "history"] == [
        {"type": "history", "conversation": conversation, "after": 0}]
    # Its socket drops: the hello names what the page holds, and nothing else.
    await monitor.evaluate("window.livehelpMonitor.socket.ws.close()")
    await expect(monitor.locator("#status-toggle")).to_be_disabled()
    await expect(monitor.locator("#status-toggle")).to_be_enabled()
    assert [m for m in sent if m["type"] == "hello"][-1] == {"type": "hello", "last_seq": {conversation: 1}}


# ---------------------------------------------------------------------------- screenshots
async def shoot(monitor: Page, name: str) -> None:
    for size, viewport in (("1366", LAPTOP), ("390", PHONE)):
        await monitor.set_viewport_size(viewport)
        await monitor.evaluate("window.scrollTo(0, 0)")
        await monitor.screenshot(path=str(SCREENS / f"monitor-{name}-{size}.png"))


async def test_screenshots_of_the_console(live_server, new_context) -> None:
    SCREENS.mkdir(exist_ok=True)
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    await shoot(monitor, "0-sessions")
    ann = await live_server.add_user("ann.lee@example.org", ("user",), first_name="Ann", last_name="Lee")
    visitors = [await Visitor.start(live_server, user=ann, screen="About you"),
                await Visitor.start(live_server, FRUIT, screen="What is your favorite fruit?"),
                await Visitor.start(live_server, screen="Protect your application")]
    await expect(entries(monitor)).to_have_count(3)
    await shoot(monitor, "3-sessions")
    for n in range(47):
        await Visitor.start(live_server, FRUIT if n % 3 else HOUSING, screen="About you")
    await expect(monitor.locator("#counts")).to_have_text("50 sessions: 50 waiting")
    await go_available(monitor)
    lines = {0: ["Hello, I need help with the rent part", "It asks for last year's figure"],
             1: ["Which fruit counts as a vegetable?"],
             2: ["Is my reference number safe here?", "I typed it in already", "Thanks"]}
    for n, visitor in enumerate(visitors):
        await visitor.activate()
        for text in lines[n]:
            await visitor.says(text)
    await composer(entry_of(monitor, visitors[0])).fill("Yes: the figure from your last tax letter.")
    await composer(entry_of(monitor, visitors[0])).press("Enter")
    await expect(entry_of(monitor, visitors[0]).locator(".chat-message")).to_have_count(3)
    await shoot(monitor, "50-sessions-3-chats")
