"""The interviewee's side of live help in Chromium, at the phone size issue 14 was measured
at (390×844): a header that keeps its height, the "operator available" popup, the Help tab
with the chat first and one scroll area, state in words that agree, the message box's
limit, messages drawn once, peers told apart, every submit disabled under control, and
the question reported in `hello` (docs/protocol.md).

The operator here is a Monitor *socket* (tests/socket_helpers.py), not the Monitor page:
these tests are about the interviewee's page, and each stays at one or a few browsers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENS
from tests.browser.test_accessibility import assert_no_violations
from tests.browser.test_monitor_chat import activate, open_interviewee, user_says
from tests.frames import next_message
from tests.socket_helpers import operator

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
AWAY = "Olga is away for the moment. You can still write; Olga or another operator will answer."
POPUP = "An operator is available to chat."


class Operator:
    """An operator's Monitor socket whose frames are read as they come (kept in `frames`)."""

    def __init__(self, person, live_server) -> None:
        self.person = person
        self.live_server = live_server
        self.frames: list[dict] = []
        self.sent = 0
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, live_server, available: bool = False) -> Operator:
        return cls(await operator(live_server, available=available), live_server)

    async def _read(self) -> None:
        while (message := await next_message(self.person.ws, timeout=3600)) is not None:
            self.frames.append(message)

    async def send(self, **message) -> None:
        await self.person.send(**message)

    async def available(self, on: bool) -> None:
        await self.send(type="set_status", available=on)

    def key(self, index: int = 0) -> str:
        """The key of a listed entry (in the order the model lists them)."""
        return self.live_server.services.livehelp.listed_entries()[index]["key"]

    async def say(self, text: str, index: int = 0) -> None:
        self.sent += 1
        await self.send(type="chat", session=self.key(index), client_id=f"op-{self.sent}", text=text)

    async def got(self, text: str) -> None:
        """Wait until a chat message with `text` reached this operator."""
        for _ in range(200):
            if any(f.get("type") == "chat" and f.get("text") == text for f in self.frames):
                return
            await asyncio.sleep(0.025)
        raise AssertionError(f"the operator never got {text!r}")

    async def close(self) -> None:
        self.person.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


def status(page: Page):
    return page.locator("#lh-partners")


async def header_line(page: Page) -> dict:
    """The header's height, and how far apart the middles of its visible items are
    vertically (0 when they sit on one line)."""
    return await page.evaluate("""() => {
      const header = document.querySelector("header.topbar");
      const items = [header.querySelector(".brand"),
                     ...header.querySelectorAll(".menu > *:not(.lh-popup):not(#lh-announce)")]
        .filter((el) => el.getClientRects().length && el.offsetWidth > 1);
      const middles = items.map((el) => { const r = el.getBoundingClientRect(); return r.top + r.height / 2; });
      return { height: header.getBoundingClientRect().height,
               spread: Math.max(...middles) - Math.min(...middles),
               overflow: header.scrollWidth - header.clientWidth };
    }""")


async def test_the_header_keeps_one_line_and_its_height(live_server, new_context) -> None:
    twilio = live_server.services.config.twilio
    twilio.voice, twilio.number = True, "+12762410114"
    user = await open_interviewee(new_context, live_server, viewport=PHONE)
    await expect(status(user)).to_have_text("No operators are available right now.")
    before = await header_line(user)
    assert before["spread"] < 2 and before["overflow"] <= 0, before

    olga = await Operator.connect(live_server)
    await olga.available(True)
    await expect(user.locator("#lh-chat-icon")).to_have_attribute("data-state", "on")
    online = await header_line(user)
    await olga.send(type="set_phone", phone="+12025550143")
    await olga.send(type="phone", session=olga.key(), on=True)
    await expect(user.get_by_role("button", name="Call an operator")).to_be_visible()
    with_phone = await header_line(user)
    assert online == before and with_phone == before, (before, online, with_phone)
    # The words beside the icons are hidden on a phone; the names are still there.
    await expect(user.get_by_role("button", name="Live chat: operator available")).to_be_visible()
    await olga.close()


async def test_a_popup_says_once_when_an_operator_becomes_available(live_server, new_context) -> None:
    user = await open_interviewee(new_context, live_server, viewport=PHONE)
    popup = user.get_by_role("group", name=POPUP)
    announce = user.locator("#lh-announce")
    await expect(status(user)).to_have_text("No operators are available right now.")
    await expect(popup).to_be_hidden()

    olga = await Operator.connect(live_server)
    await olga.available(True)
    await expect(popup).to_be_visible()
    await expect(announce).to_have_text(POPUP)
    await assert_no_violations(user, "Help tab closed, popup open")
    SCREENS.mkdir(exist_ok=True)
    await user.screenshot(path=str(SCREENS / "help-popup-390.png"))
    box, question = await popup.bounding_box(), await user.locator("#question").bounding_box()
    assert box["y"] + box["height"] <= question["y"], "the popup covers the question"
    await user.keyboard.press("Escape")
    await expect(popup).to_be_hidden()
    await expect(announce).to_have_text("")

    # Not again while chat stays available: a new page (the next screen) keeps it closed.
    await user.reload()
    await expect(status(user)).to_have_text("1 operator standing by.")
    await expect(popup).to_be_hidden()

    # Unavailable, then available again: it shows again; Close closes it.
    await olga.available(False)
    await expect(status(user)).to_have_text("No operators are available right now.")
    await olga.available(True)
    await expect(popup).to_be_visible()
    await popup.get_by_role("button", name="Close").click()
    await expect(popup).to_be_hidden()
    await expect(user.locator("#lh-chat-icon")).to_be_focused()

    # "Open chat" opens the Help tab at its Activate button.
    await olga.available(False)
    await expect(status(user)).to_have_text("No operators are available right now.")
    await olga.available(True)
    await popup.get_by_role("button", name="Open chat").click()
    await expect(popup).to_be_hidden()
    await expect(user.get_by_role("tab", name="Help")).to_have_attribute("aria-selected", "true")
    await expect(user.get_by_role("button", name="Activate chat")).to_be_focused()
    await olga.close()


async def test_on_a_phone_the_chat_comes_first_and_the_page_is_the_one_scroll_area(
        live_server, new_context) -> None:
    olga = await Operator.connect(live_server, available=True)
    user = await open_interviewee(new_context, live_server, viewport=PHONE)
    await user.locator("#lh-chat-icon").click()
    panel = user.locator("#help-panel")
    await expect(panel.locator("details > summary")).to_have_text(
        ["About this question", "About this interview"])
    order = await panel.evaluate("""(panel) => [...panel.querySelectorAll("#lh-chat, details")]
        .map((el) => el.id || el.tagName.toLowerCase())""")
    assert order == ["lh-chat", "details", "details"]
    for details in await panel.locator("details").all():
        assert not await details.evaluate("(d) => d.open")  # folded on a phone
    # No empty box before the first message.
    await expect(user.locator("#lh-messages")).to_be_hidden()

    await activate(user)
    for n in range(14):
        await olga.say(f"Message {n + 1}: a few words to fill the screen of a phone.")
    await expect(user.locator("#lh-messages li")).to_have_count(14)
    await user_says(user, "Thank you, that is a lot to read.")
    last = user.locator("#lh-messages li").last
    await expect(last.locator(".chat-state")).to_have_count(0)
    scroll = await user.evaluate("""() => {
      const list = document.getElementById("lh-messages");
      return { inner: list.scrollHeight - list.clientHeight, page: window.scrollY,
               overflow: getComputedStyle(list).overflowY };
    }""")
    assert scroll["inner"] <= 0 and scroll["overflow"] == "visible", scroll
    assert scroll["page"] > 0, scroll  # the page scrolled to follow the conversation
    await expect(user.locator("#lh-input")).to_be_in_viewport()
    await expect(last).to_be_in_viewport()
    last_box = await last.bounding_box()
    composer_box = await user.locator(".lh-composer").bounding_box()
    assert last_box["y"] + last_box["height"] <= composer_box["y"] + 1, "under the message box"
    SCREENS.mkdir(exist_ok=True)
    await user.screenshot(path=str(SCREENS / "help-long-chat-390.png"))
    # Reading back up: the message box stays at the bottom of the screen.
    await user.evaluate("window.scrollBy(0, -400)")
    composer_box = await user.locator(".lh-composer").bounding_box()
    assert abs(composer_box["y"] + composer_box["height"] - PHONE["height"]) <= 1, composer_box
    await olga.close()


async def test_states_in_words_agree_with_each_other(live_server, new_context) -> None:
    user = await open_interviewee(new_context, live_server)
    await expect(status(user)).not_to_have_text("Connecting…")
    cases = await user.evaluate("""async () => {
      const src = document.querySelector('script[src*="livehelp-user.js"]').src;
      const { describeState } = await import(new URL("livehelp-state.js", src));
      const base = { availability: "available", mode: "help", active: false, can_activate: true,
        operators: 1, peers: 0, blocked: false, operator_name: null, operator_available: false };
      const cases = {
        chatting: { ...base, active: true, operator_name: "Ann", operator_available: true },
        away: { ...base, active: true, operator_name: "Ann", operators: 0 },
        unassigned: { ...base, active: true },
        nobody: { ...base, active: true, operators: 0 },
        standby: base,
        none: { ...base, operators: 0, can_activate: false },
        blocked: { ...base, blocked: true, operators: 0, can_activate: false },
        peer: { ...base, mode: "peer", active: true, operators: 0, peers: 2 },
        peerhelp: { ...base, mode: "peerhelp", active: true, peers: 1, operator_name: "Ann",
                    operator_available: true },
        peerhelpBlocked: { ...base, mode: "peerhelp", active: true, blocked: true, operators: 0 },
        off: { ...base, availability: "observeonly", can_activate: false },
      };
      return Object.fromEntries(Object.entries(cases).map(([k, s]) => {
        const v = describeState(s);
        return [k, [v.status, v.input, v.activateShown, v.deactivateShown]];
      }));
    }""")
    assert cases == {
        "chatting": ["You are chatting with Ann.", True, False, True],
        "away": ["Ann is away for the moment. You can still write; Ann or another operator will answer.",
                 True, False, True],
        "unassigned": ["An operator will answer your first message.", True, False, True],
        "nobody": ["No operator is available right now. You can write again as soon as one is.",
                   False, False, True],
        "standby": ["1 operator standing by.", False, True, False],
        "none": ["No operators are available right now.", False, True, False],
        "blocked": ["Chat with operators is blocked for this session.", False, True, False],
        "peer": ["2 other people in this session.", True, False, True],
        "peerhelp": ["You are chatting with Ann. 1 other person in this session.", True, False, True],
        "peerhelpBlocked": [("Chat with operators is blocked for this session; you can still talk "
                             "with others here. No one else is in this session right now; your "
                             "messages stay here for them."), True, False, True],
        "off": ["Live chat is not offered in this interview.", False, False, False],
    }


async def test_when_the_operator_leaves_the_words_say_so_and_writing_goes_on(
        live_server, new_context) -> None:
    olga = await Operator.connect(live_server, available=True)
    user = await open_interviewee(new_context, live_server, viewport=PHONE)
    await activate(user)
    await expect(status(user)).to_have_text("You are chatting with Olga.")

    await olga.available(False)  # goes unavailable
    await expect(status(user)).to_have_text(AWAY)
    await expect(user.locator("#lh-input")).to_be_enabled()
    await expect(user.get_by_text("No operators are available")).to_have_count(0)
    await user_says(user, "Are you still there?")
    await olga.got("Are you still there?")  # the server takes it, as the words promise

    await olga.available(True)
    await expect(status(user)).to_have_text("You are chatting with Olga.")
    await olga.close()  # closes the Monitor
    await expect(status(user)).to_have_text(AWAY)
    await expect(user.locator("#lh-input")).to_be_enabled()
    await expect(user.locator("#lh-chat-icon")).to_have_attribute(
        "aria-label", "Live chat: no one available")


async def test_the_message_box_has_the_servers_limit_and_says_refusals_plainly(
        live_server, config, new_context) -> None:
    config.max_chat_chars = 100
    olga = await Operator.connect(live_server, available=True)
    user = await open_interviewee(new_context, live_server)
    await activate(user)
    box = user.locator("#lh-input")
    await expect(box).to_have_attribute("maxlength", "100")
    counter = user.locator("#lh-counter")
    await box.fill("x" * 89)
    await expect(counter).to_have_text("")
    await box.fill("x" * 95)
    await expect(counter).to_have_text("5 characters left")
    assert await counter.get_attribute("aria-live") is None
    assert "lh-counter" in await box.get_attribute("aria-describedby")
    await user_says(user, "Short and sent")
    await expect(counter).to_have_text("")

    # A refusal that names a field ("'text' must not be empty") reads as a plain sentence.
    await user.evaluate("window.livehelpUserChat.log.addPending('c-empty', '')")
    failed = user.locator("#lh-messages .chat-state.failed")
    await expect(failed).to_have_text("Not sent: A message cannot be empty.")
    assert "'text'" not in await user.locator("#lh-chat").inner_text()
    await olga.close()


# Types the texts into the page's own box, each sent by Enter, in one go: none is
# stored yet when the next is typed. A text longer than the box allows is set as a
# paste beyond `maxlength` would be by a script: the server is the one that refuses.
TYPE = """(texts) => {
  const input = document.getElementById("lh-input");
  for (const text of texts) {
    input.value = text;
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
  }
}"""


async def test_a_refused_message_stays_where_it_was_typed(live_server, config, new_context) -> None:
    config.max_chat_chars = 20
    olga = await Operator.connect(live_server, available=True)
    user = await open_interviewee(new_context, live_server)
    await activate(user)
    too_long = "This one is far too long to send."
    texts = user.locator("#lh-messages .chat-text")
    await user_says(user, "first")
    await olga.say("reply")
    await expect(texts).to_have_text(["first", "reply"])
    await user.evaluate(TYPE, ["quick", too_long])  # typed while "quick" was on its way
    await expect(user.locator(".chat-state.failed")).to_have_text(
        "Not sent: This message is too long: at most 20 characters.")
    await user.evaluate(TYPE, ["second", "third"])
    expected = ["first", "reply", "quick", too_long, "second", "third"]
    await expect(texts).to_have_text(expected)
    await expect(user.locator("#lh-messages .chat-state")).to_have_count(1)

    await olga.available(False)  # a state: the chat is drawn again
    await expect(status(user)).to_have_text(AWAY)
    await expect(texts).to_have_text(expected)
    await user.evaluate("window.livehelpUserChat.socket.ws.close()")  # hello, history again
    await expect(user.locator("#lh-connection")).to_have_text(re.compile("reconnecting"))
    await expect(user.locator("#lh-connection")).to_have_text("")
    await olga.say("after the reconnect")
    await expect(texts).to_have_text([*expected, "after the reconnect"])
    await olga.close()


# Counts the <li> added to and removed from the message list, as they happen.
COUNT_ITEMS = """() => {
  window.items = { added: 0, removed: 0 };
  const list = document.getElementById("lh-messages");
  new MutationObserver((changes) => {
    for (const change of changes) {
      window.items.added += [...change.addedNodes].filter((n) => n.nodeName === "LI").length;
      window.items.removed += [...change.removedNodes].filter((n) => n.nodeName === "LI").length;
    }
  }).observe(list, { childList: true });
}"""


async def test_a_new_message_adds_one_item_and_nothing_else_is_redrawn(
        live_server, new_context) -> None:
    olga = await Operator.connect(live_server, available=True)
    user = await open_interviewee(new_context, live_server)
    await activate(user)
    region = user.get_by_role("log", name="Chat messages")
    await expect(region.locator("ol#lh-messages")).to_have_count(1)
    assert await user.locator("#lh-messages").get_attribute("aria-live") is None
    await olga.say("Hello, how can I help?")
    await expect(user.locator("#lh-messages li")).to_have_count(1)

    await user.evaluate(COUNT_ITEMS)
    await olga.say("Take your time.")
    await expect(user.locator("#lh-messages li")).to_have_count(2)
    assert await user.evaluate("window.items") == {"added": 1, "removed": 0}
    await user_says(user, "Thanks")  # "sending…", then stored: the same <li>
    await expect(user.locator("#lh-messages li").last.locator(".chat-state")).to_have_count(0)
    await olga.got("Thanks")
    assert await user.evaluate("window.items") == {"added": 2, "removed": 0}
    await olga.available(False)
    await expect(status(user)).to_have_text(AWAY)
    assert await user.evaluate("window.items") == {"added": 2, "removed": 0}
    await olga.close()


async def test_in_peer_mode_each_other_person_has_a_label_of_their_own(
        live_server, new_context) -> None:
    pages = []
    for n in range(3):
        page = await (await new_context(viewport=PHONE if n == 2 else None)).new_page()
        if n == 0:
            await page.goto(live_server.url("interview/peer"))
            await page.get_by_role("button", name="Continue").click()
            share = await page.locator("#share-link").input_value()
        else:
            await page.goto(share)
        await expect(status(page)).not_to_have_text("Connecting…")
        await activate(page)
        pages.append(page)
    ann, ben, cy = pages
    for page, text in ((ann, "Ann here"), (ben, "Ben here"), (cy, "Cy here")):
        await user_says(page, text)
        await expect(page.locator("#lh-messages .mine .chat-state")).to_have_count(0)
    for page in pages:
        await expect(page.locator("#lh-messages .chat-text")).to_have_text(["Ann here", "Ben here", "Cy here"])
    names = ann.locator("#lh-messages .chat-name")
    await expect(names).to_have_text(["You", "Participant 2", "Participant 3"])
    await expect(cy.locator("#lh-messages .chat-name")).to_have_text(
        ["Participant 1", "Participant 2", "You"])


async def to_review(user: Page) -> None:
    """Walk the co-browsing demo to its review screen."""
    await user.get_by_label("Your first name").fill("Ann")
    await user.get_by_role("button", name="Continue").click()
    await user.get_by_label("Renting").check()
    await user.get_by_role("radio", name="No").check()
    await user.get_by_role("button", name="Continue").click()
    await user.get_by_label("Reference number").fill("R-1")
    await user.get_by_label("Password").fill("a password")
    await user.get_by_role("button", name="Continue").click()
    await expect(user.locator("#question")).to_have_text("Check your answers")


async def test_under_an_operators_control_every_submit_is_disabled(live_server, new_context) -> None:
    olga = await Operator.connect(live_server)
    user = await (await new_context(viewport=PHONE)).new_page()
    await user.goto(live_server.url("interview/cobrowse_demo"))
    await to_review(user)
    panel = user.locator("#interview-panel")
    submits = panel.locator('button[type="submit"]')
    assert await submits.count() >= 7  # Change ×5, Send application, Start over
    await expect(panel.get_by_role("button", name="Start over")).to_be_enabled()

    await olga.send(type="observe", session=olga.key())
    await olga.send(type="control", session=olga.key())
    await expect(user.locator("#lh-cobrowse-notice")).to_contain_text("controlling")
    for button in await submits.all():
        await expect(button).to_be_disabled()
    await olga.send(type="stop_control", session=olga.key())
    await expect(user.locator("#lh-cobrowse-notice")).to_contain_text("You have control")
    for button in await submits.all():
        await expect(button).to_be_enabled()
    await olga.close()


async def test_hello_names_the_question_on_the_screen(live_server, new_context) -> None:
    hellos: list[dict] = []

    def record(payload: str) -> None:
        message = json.loads(payload)
        if message.get("type") == "hello":
            hellos.append(message)

    context = await new_context(viewport=PHONE)
    context.on("page", lambda page: page.on("websocket", lambda ws: ws.on("framesent", record)))

    async def this_context(**_):
        return context

    user = await open_interviewee(this_context, live_server)
    await expect(status(user)).not_to_have_text("Connecting…")
    assert hellos[-1]["screen"] == "What types of support are you seeking?"
    (entry,) = live_server.services.livehelp.listed_entries()
    assert entry["screen"] == "What types of support are you seeking?"

    # A long heading goes out cut at 200 characters, its spaces in one line.
    await user.evaluate("""() => {
      document.getElementById("question").textContent = "  Long\\n  question " + "é".repeat(300);
      window.livehelpUserChat.socket.ws.close();
    }""")
    await expect(user.locator("#lh-connection")).to_have_text(re.compile("reconnecting"))
    await expect(user.locator("#lh-connection")).to_have_text("")
    await expect(status(user)).not_to_have_text("Connecting…")
    screen = hellos[-1]["screen"]
    assert screen.startswith("Long question é") and len(screen) == 200


async def test_screens_and_axe_before_during_and_after_a_chat(live_server, new_context) -> None:
    SCREENS.mkdir(exist_ok=True)
    olga = await Operator.connect(live_server, available=True)
    phone = await open_interviewee(new_context, live_server, viewport=PHONE)
    laptop = await open_interviewee(new_context, live_server, viewport=LAPTOP)
    pages = {"390": phone, "1366": laptop}
    for size, page in pages.items():
        await page.locator("#lh-chat-icon").click()
        await expect(status(page)).to_have_text("1 operator standing by.")
        await assert_no_violations(page, f"Help tab before a chat ({size})")
        await page.screenshot(path=str(SCREENS / f"help-before-{size}.png"), full_page=True)
    details_open = await laptop.locator("details.help-more").evaluate_all("(all) => all.map((d) => d.open)")
    assert details_open == [True, True]  # room for the help texts on a laptop

    for index, (size, page) in enumerate(pages.items()):
        await activate(page)
        await user_says(page, "Hello, I have a question about child support.")
        await olga.got("Hello, I have a question about child support.")
        await olga.say("Of course. What would you like to know?", index=index)
        await user_says(page, "How is it calculated when we share custody?")
        await expect(page.locator("#lh-messages li")).to_have_count(3)
        await expect(page.locator("#lh-messages .chat-state")).to_have_count(0)
        await assert_no_violations(page, f"Help tab during a chat ({size})")
        await page.screenshot(path=str(SCREENS / f"help-during-{size}.png"), full_page=True)

    await olga.close()
    for size, page in pages.items():
        await expect(status(page)).to_have_text(AWAY)
        await page.get_by_role("button", name="Turn off chat").click()
        await expect(page.get_by_role("button", name="Activate chat")).to_be_visible()
        await assert_no_violations(page, f"Help tab after a chat ({size})")
        await page.screenshot(path=str(SCREENS / f"help-after-{size}.png"), full_page=True)
