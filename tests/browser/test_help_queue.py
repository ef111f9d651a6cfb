"""The interviewee's side of issue 15 in Chromium: the place in line and its wait, a chat
closed by its operator, a transfer, and a message left when nobody can chat, answered
while the page was closed (docs/protocol.md: "Queue", "Messages left").

Operators are Monitor sockets and the other people in line interviewee sockets
(tests/socket_helpers.py): only the person under test has a browser.
"""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENS
from tests.browser.test_accessibility import assert_no_violations
from tests.browser.test_help_tab import LAPTOP, PHONE, Operator, status
from tests.browser.test_monitor_chat import activate, open_interviewee, user_says
from tests.socket_helpers import interviewee, live_session, operator

# chat_example (the browser's interview) asks for these: the others in line must share
# the role set, since each set has its own line.
ROLES = ("advocate", "family law")
NO_HISTORY = "it may take a few minutes"
LEFT = "Your message was left. An operator will answer here; come back to this page to read the answer."
NOT_NOW = "An operator can chat with you now: start a chat instead."

# Counts the changes of the place-in-line status, as they happen.
COUNT_QUEUE_WRITES = """() => {
  window.queueWrites = 0;
  new MutationObserver((changes) => { window.queueWrites += changes.length; })
    .observe(document.getElementById("lh-queue"), { childList: true, characterData: true, subtree: true });
}"""


def queue_line(page: Page):
    return page.locator("#lh-queue")


async def wait_for(operator: Operator, predicate) -> dict:
    """The first frame the operator got (or gets) for which predicate(frame) holds."""
    for _ in range(200):
        for frame in operator.frames:
            if predicate(frame):
                return frame
        await asyncio.sleep(0.025)
    raise AssertionError("the operator never got that frame")


async def key_of(page: Page, live_server) -> str:
    """The entry key of the person on `page` (the Monitor's name for them)."""
    session = await page.locator("main[data-session]").get_attribute("data-session")
    (entry,) = [e for e in live_server.services.livehelp.listed_entries() if e["session"] == session]
    return entry["key"]


async def another_state(page: Page, live_server) -> None:
    """Make the server send `page` a `state` that changes nothing for it (an operator who
    is not available connects: everyone is told), and wait until the page has it."""
    states = await page.evaluate("window.livehelpUserChat.statesSinceOpen")
    await operator(live_server, "carol@example.com", first_name="Carol", available=False)
    await page.wait_for_function(f"window.livehelpUserChat.statesSinceOpen > {states}")


async def in_line_with(live_server, olga: Operator | None = None):
    """An interviewee socket with chat on; assigned to Olga when `olga` is given."""
    person = await interviewee(live_server, await live_session(live_server, roles=ROLES))
    await person.send(type="activate")
    if olga:
        await person.until("state", lambda m: m["operator_name"] == "Olga")
    else:
        await person.until("state", lambda m: m["queue"] is not None)
    return person


async def screens(page: Page, name: str) -> None:
    """The whole page at phone and laptop size: tests/browser/screens/help15-<name>-*.png."""
    SCREENS.mkdir(exist_ok=True)
    for size in (PHONE, LAPTOP):
        await page.set_viewport_size(size)
        await page.screenshot(path=str(SCREENS / f"help15-{name}-{size['width']}.png"), full_page=True)


async def test_the_third_user_waits_in_line_and_gets_the_operator_when_a_place_frees(
        live_server, new_context) -> None:
    olga = await Operator.connect(live_server, available=True)
    await olga.send(type="set_capacity", capacity=2)
    await wait_for(olga, lambda f: f.get("type") == "monitor" and f["operator"]["capacity"] == 2)
    first = await in_line_with(live_server, olga)
    await in_line_with(live_server, olga)
    ahead = await in_line_with(live_server)  # number 1: the page below is number 2

    user = await open_interviewee(new_context, live_server)
    await activate(user)  # the message box works in line: the server takes messages then
    await expect(queue_line(user)).to_have_text(f"You are number 2 in line; {NO_HISTORY}.")
    await expect(status(user)).to_have_text("While you wait, operators can read what you write here.")
    await user_says(user, "I am in line with a question.")
    await olga.got("I am in line with a question.")
    await expect(user.locator("#lh-messages .chat-state")).to_have_count(0)

    # A state that leaves the place as it was does not touch the line (nothing announced).
    await user.evaluate(COUNT_QUEUE_WRITES)
    await another_state(user, live_server)
    assert await user.evaluate("window.queueWrites") == 0

    await ahead.send(type="deactivate")
    await expect(queue_line(user)).to_have_text(f"You are number 1 in line; {NO_HISTORY}.")
    assert await user.evaluate("window.queueWrites") == 1
    await assert_no_violations(user, "Help tab in line")
    await screens(user, "in-line")

    await first.send(type="deactivate")  # a place frees: the head of the line gets it
    await expect(status(user)).to_have_text("You are chatting with Olga.")
    await expect(queue_line(user)).to_have_text("")
    await expect(user.locator("#lh-messages .chat-text")).to_have_text(["I am in line with a question."])
    await olga.close()


async def test_the_user_is_told_who_closed_the_chat_and_can_start_a_new_one(
        live_server, new_context) -> None:
    olga = await Operator.connect(live_server, available=True)
    user = await open_interviewee(new_context, live_server)
    await activate(user)
    await user_says(user, "Thank you, that is all.")
    await olga.got("Thank you, that is all.")

    await olga.send(type="close_chat", session=await key_of(user, live_server))
    await expect(status(user)).to_have_text("Olga closed this chat. You can start a new one.")
    start = user.get_by_role("button", name="Start a new chat")
    await expect(start).to_be_enabled()
    await expect(user.get_by_role("button", name="Activate chat")).to_have_count(0)
    await expect(user.locator("#lh-input")).to_be_disabled()
    await expect(user.locator("#lh-input")).to_have_attribute(
        "placeholder", "Press “Start a new chat” to start chatting")
    await expect(user.locator("#lh-messages .chat-text")).to_have_text(["Thank you, that is all."])
    await assert_no_violations(user, "Help tab after the operator closed the chat")
    await screens(user, "closed")

    await start.focus()
    await user.keyboard.press("Enter")
    await expect(status(user)).to_have_text("You are chatting with Olga.")
    await expect(user.get_by_role("button", name="Turn off chat")).to_be_visible()
    await user_says(user, "One more thing.")
    await olga.got("One more thing.")
    await olga.close()


async def test_a_transfer_says_who_the_user_chats_with_now_and_keeps_the_history(
        live_server, new_context) -> None:
    olga = await Operator.connect(live_server, available=True)
    user = await open_interviewee(new_context, live_server)
    await activate(user)
    await expect(status(user)).to_have_text("You are chatting with Olga.")
    await user_says(user, "Can you help with custody?")
    await olga.got("Can you help with custody?")
    await olga.say("Bob knows custody best; I am passing you to him.")
    texts = user.locator("#lh-messages .chat-text")
    await expect(texts).to_have_count(2)

    bob = Operator(await operator(live_server, "bob@example.com", first_name="Bob"), live_server)
    await olga.send(type="transfer", session=await key_of(user, live_server), to=bob.person.user.id,
                    note="Custody question")
    await expect(status(user)).to_have_text("You are now chatting with Bob.")
    await expect(texts).to_have_text(["Can you help with custody?",
                                      "Bob knows custody best; I am passing you to him."])
    await bob.say("Hello, Bob here.")
    await expect(texts).to_have_count(3)
    await expect(user.locator("#lh-messages .chat-name")).to_have_text(["You", "Olga", "Bob"])
    # Said once: another state (an operator connects) does not change the words.
    await another_state(user, live_server)
    await expect(status(user)).to_have_text("You are now chatting with Bob.")
    await olga.close()
    await bob.close()


async def test_a_message_left_is_refused_in_words_then_left_and_answered_while_away(
        live_server, new_context) -> None:
    user = await open_interviewee(new_context, live_server)
    await user.locator("#lh-chat-icon").click()
    form = user.get_by_role("form", name="Leave a message")
    await expect(form).to_be_visible()
    await expect(user.locator("#lh-leave-lead")).to_have_text(
        "Nobody can chat right now. Leave a message and an operator will answer it here.")
    await expect(user.locator("#lh-form")).to_be_hidden()  # no dead message box beside it
    text = form.get_by_label("Your message to the operators")
    contact = form.get_by_label(re.compile(r"^How to reach you \(optional\)"))
    await expect(text).to_have_attribute("maxlength", "4000")

    await form.get_by_role("button", name="Leave message").click()
    await expect(user.locator("#lh-leave-text-error")).to_have_text("Write your message first.")
    await text.fill("Please call me about my hearing date.")
    await contact.fill("call me maybe")
    await contact.press("Enter")
    error = user.locator("#lh-leave-contact-error")
    await expect(error).to_have_text(re.compile(r"^How to reach you: this is neither an email"))
    await expect(contact).to_have_attribute("aria-invalid", "true")
    await expect(contact).to_have_attribute("aria-describedby", "lh-leave-contact-error")
    await expect(contact).to_be_focused()
    await expect(text).not_to_have_attribute("aria-invalid", "true")
    await expect(user.locator("#lh-messages li")).to_have_count(0)  # nothing was left
    await assert_no_violations(user, "leave-a-message form with an error")
    await screens(user, "leave-form")

    await contact.fill("+12762410114")
    await expect(contact).not_to_have_attribute("aria-invalid", "true")
    # Sent while the socket is down: it goes once the page has reconnected.
    await user.evaluate("""() => {
      window.livehelpUserChat.socket.ws.close();
      document.getElementById("lh-leave-send").click();
    }""")
    await expect(user.locator("#lh-leave-sending")).to_have_text("Sending your message…")
    await expect(user.locator("#lh-left")).to_have_text(LEFT)
    await expect(form).to_be_hidden()
    await expect(user.locator("#lh-left")).to_be_focused()
    await expect(user.locator("#lh-messages .chat-name")).to_have_text(["You"])
    await expect(user.locator("#lh-messages .chat-text")).to_have_text(["Please call me about my hearing date."])
    await expect(user.locator("#lh-messages .chat-state")).to_have_count(0)
    await assert_no_violations(user, "after leaving a message")
    await screens(user, "left")
    (left,) = await live_server.services.store.list_left_messages()
    assert (left.text, left.contact) == ("Please call me about my hearing date.", "+12762410114")

    await user.get_by_role("button", name="Leave another message").click()
    await expect(text).to_be_focused()
    await expect(text).to_have_value("")
    await expect(user.locator("#lh-left")).to_have_text("")

    address = user.url
    context = user.context
    await user.close()  # the person goes; an operator answers meanwhile
    olga = await Operator.connect(live_server)
    await olga.send(type="hello", last_seq={})  # the list follows each snapshot
    listed = await wait_for(olga, lambda f: f.get("type") == "messages_left" and f["messages"])
    await olga.send(type="reply_left", id=listed["messages"][0]["id"], client_id="r-1",
                    text="I will call you at 3 pm.")
    await wait_for(olga, lambda f: f.get("type") == "ack" and f["client_id"] == "r-1")

    back = await context.new_page()
    await back.goto(address)
    await expect(back.locator("#lh-messages .chat-text")).to_have_text(
        ["Please call me about my hearing date.", "I will call you at 3 pm."])
    await expect(back.locator("#lh-messages .chat-name")).to_have_text(["You", "Olga"])
    await olga.close()


async def test_a_draft_stays_when_an_operator_comes_and_the_words_say_chat_instead(
        live_server, new_context) -> None:
    user = await open_interviewee(new_context, live_server)
    await user.locator("#lh-chat-icon").click()
    text = user.get_by_label("Your message to the operators")
    await text.fill("Half a message")
    olga = await Operator.connect(live_server, available=True)
    await expect(status(user)).to_have_text("1 operator standing by.")
    await expect(text).to_have_value("Half a message")  # not taken away while typed
    await expect(user.locator("#lh-leave-lead")).to_have_text(NOT_NOW)
    await user.get_by_role("button", name="Leave message").click()  # refused: not_now
    await expect(user.get_by_role("button", name="Activate chat")).to_be_focused()
    await expect(user.get_by_role("button", name="Leave message")).to_be_enabled()
    await expect(user.get_by_text(NOT_NOW)).to_have_count(1)  # said once
    await expect(user.locator("#lh-messages li")).to_have_count(0)
    assert await live_server.services.store.list_left_messages() == []
    await olga.close()


async def test_the_words_for_the_line_closing_and_transfer_agree(live_server, new_context) -> None:
    user = await open_interviewee(new_context, live_server)
    await expect(status(user)).not_to_have_text("Connecting…")
    cases = await user.evaluate("""async () => {
      const src = document.querySelector('script[src*="livehelp-user.js"]').src;
      const { describeState } = await import(new URL("livehelp-state.js", src));
      const base = { availability: "available", mode: "help", active: true, can_activate: true,
        operators: 1, peers: 0, blocked: false, operator_name: null, operator_available: false,
        queue: null, closed_by: null, can_leave_message: false };
      const line = (position, estimate_seconds) => ({ ...base, queue: { position, estimate_seconds } });
      const cases = {
        soon: [line(3, 20)], oneMinute: [line(1, 80)], four: [line(3, 239)], unknown: [line(1, null)],
        longLine: [{ ...line(12, 1500), can_leave_message: true }],
        lineNobody: [{ ...line(2, null), operators: 0, can_leave_message: true }],
        closed: [{ ...base, active: false, closed_by: "Olga" }],
        closedNobody: [{ ...base, active: false, closed_by: "Olga", operators: 0, can_activate: false,
                         can_leave_message: true }],
        transferred: [{ ...base, operator_name: "Bob", operator_available: true }, { transferredTo: "Bob" }],
        nobody: [{ ...base, active: false, operators: 0, can_activate: false, can_leave_message: true }],
        heldAway: [{ ...base, operator_name: "Ann", operators: 0, can_leave_message: true }],
        left: [{ ...base, active: false, operators: 0, can_activate: false, can_leave_message: true },
               { left: true }],
      };
      return Object.fromEntries(Object.entries(cases).map(([k, [s, page]]) => {
        const v = describeState(s, page);
        return [k, [v.queue, v.status, v.input, v.activateLabel, v.leave.shown, v.composerShown]];
      }));
    }""")
    waiting = "While you wait, operators can read what you write here."
    nobody_in_line = "No operator is available right now; you keep your place in line and can write meanwhile."
    assert cases == {
        "soon": ["You are number 3 in line; less than a minute.", waiting, True, "Activate chat", False, True],
        "oneMinute": ["You are number 1 in line; about 1 minute.", waiting, True, "Activate chat", False, True],
        "four": ["You are number 3 in line; about 4 minutes.", waiting, True, "Activate chat", False, True],
        "unknown": [f"You are number 1 in line; {NO_HISTORY}.", waiting, True, "Activate chat", False, True],
        "longLine": ["You are number 12 in line; about 25 minutes.", waiting, True, "Activate chat", True, True],
        "lineNobody": [f"You are number 2 in line; {NO_HISTORY}.", nobody_in_line, True, "Activate chat",
                       True, True],
        "closed": ["", "Olga closed this chat. You can start a new one.", False, "Start a new chat", False, True],
        "closedNobody": ["", "Olga closed this chat. No operators are available right now.", False,
                         "Start a new chat", True, False],
        "transferred": ["", "You are now chatting with Bob.", True, "Activate chat", False, True],
        "nobody": ["", "No operators are available right now.", False, "Activate chat", True, False],
        "heldAway": ["", ("Ann is away for the moment. You can still write; Ann or another operator "
                          "will answer."), True, "Activate chat", False, True],
        "left": ["", "No operators are available right now.", False, "Activate chat", False, False],
    }
