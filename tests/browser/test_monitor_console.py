"""The Monitor as an operator's console (issue 14), in Chromium: what fits a laptop
screen, the order, search, filters and counts, the offline group, and a bounded DOM
with many sessions. Unread state, the keyboard, what a screen reader hears and shared
sessions are in test_monitor_attention.py; the people on the other end are cheap
sockets (monitor_visitors.py)."""

from __future__ import annotations

import json
import re

import msgspec
from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENS
from tests.browser.monitor_visitors import (
    FRUIT,
    HOUSING,
    LAPTOP,
    PHONE,
    Colleague,
    Visitor,
    entry_of,
    expect_drawn,
    fully_visible,
    many,
)
from tests.browser.test_monitor_chat import (
    composer,
    entries,
    go_available,
    open_entry,
    open_operator,
    toggle,
)


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
