"""The pages in Chromium: who a message is from is the server's word, not a client_id's;
what retrying can cure is retried, what it cannot is "Not sent" in words; a Monitor
whose rights were removed says so and stops (docs/protocol.md)."""

from __future__ import annotations

import json
import re

from playwright.async_api import Page, expect

from handlers.rights import RIGHTS_REMOVED_REASON
from handlers.socket_registry import CLOSE_RIGHTS_REMOVED
from state.store.base import StoreUnavailable
from tests.browser.conftest import SCREENS
from tests.browser.test_monitor_chat import entries, go_available, open_entry, open_operator

# The session shared by two parents, an operator answering both (peerhelp mode).
PEERHELP = "peerhelp"
PEER = "peer"  # a message board: one person can chat with no operator around
ALICE, BOB, OLGA = "Hi, this is Alice", "Hi Alice, Bob here", "Hello both, Olga here"
FORGED = ["forged with Alice's prefix", "forged with Alice's very client_id"]
# Store failures before the store "comes back" (each one a retry of the same client_id).
OUTAGE_FAILURES = 2


async def open_shared(new_context, live_server, interview: str, viewport: dict | None = None,
                      sent: list[dict] | None = None) -> tuple[Page, str]:
    """A fresh browser that starts a multi-user interview; (page, its share link). With
    `sent`, every chat frame its sockets send lands there."""
    page = await (await new_context(viewport=viewport or {"width": 1000, "height": 800})).new_page()
    if sent is not None:
        chat_sent(page, sent)
    await page.goto(live_server.url(f"interview/{interview}"))
    await page.get_by_role("button", name="Continue").click()
    return page, await page.locator("#share-link").input_value()


async def join(new_context, share: str, viewport: dict | None = None) -> Page:
    page = await (await new_context(viewport=viewport or {"width": 1000, "height": 800})).new_page()
    await page.goto(share)
    return page


async def activate(page: Page) -> None:
    """Turn chat on, once the page's chat runs (its first `state` replaced "Connecting…")."""
    await expect(page.locator("#lh-partners")).not_to_have_text("Connecting…")
    await page.locator("#lh-chat-icon").click()
    await page.get_by_role("button", name="Activate chat").click()
    await expect(page.locator("#lh-input")).to_be_enabled()


async def say(page: Page, text: str) -> None:
    await page.locator("#lh-input").fill(text)
    await page.locator("#lh-input").press("Enter")


async def conversation_of(page: Page) -> str:
    return await page.evaluate("window.livehelpUserChat.log.conversation")


def chat_sent(page: Page, frames: list[dict]) -> None:
    """Collect the chat frames this page's sockets send."""
    def record(payload: str) -> None:
        message = json.loads(payload)
        if message.get("type") == "chat":
            frames.append(message)
    page.on("websocket", lambda ws: ws.on("framesent", record))


# Bob's browser opens a socket of its own (his cookies, same origin) and sends chat
# frames whose client_ids it copied from Alice's messages, as any peer could.
FORGE = """async ([aliceText, texts]) => {
  const own = [...window.livehelpUserChat.log.bySeq.values()].find((m) => m.text === aliceText);
  const prefix = own.client_id.split("-").slice(0, 2).join("-");
  const ids = [`${prefix}-forged-1`, own.client_id];
  const session = document.querySelector("main[data-session]").dataset.session;
  const root = document.body.dataset.urlRoot || "/";
  const ws = new WebSocket(`ws://${location.host}${root}ws/user/${session}`);
  return await new Promise((resolve, reject) => {
    const acked = [];
    ws.onopen = () => ids.forEach((id, n) => ws.send(JSON.stringify(
      { type: "chat", client_id: id, text: texts[n] })));
    ws.onmessage = (event) => {
      for (const m of [].concat(JSON.parse(event.data))) {
        if (m.type === "error") reject(new Error(JSON.stringify(m)));
        if (m.type === "ack") acked.push(m.client_id);
      }
      if (acked.length === ids.length) { ws.close(); resolve({ prefix, ids }); }
    };
  });
}"""


async def names(locator) -> list[str]:
    return await locator.locator(".chat-name").all_text_contents()


async def test_peers_are_told_apart_by_the_server_not_by_client_ids(
        live_server, new_context) -> None:
    SCREENS.mkdir(exist_ok=True)
    monitor = await open_operator(new_context, live_server)
    alice, share = await open_shared(new_context, live_server, PEERHELP,
                                     viewport={"width": 1366, "height": 768})
    bob = await join(new_context, share, viewport={"width": 390, "height": 844})
    await go_available(monitor)
    for page in (alice, bob):
        await activate(page)
    await say(alice, ALICE)
    await expect(bob.locator("#lh-messages .chat-text")).to_have_text([ALICE])
    await say(bob, BOB)
    entry = entries(monitor).first
    await expect(entry.locator(".chat-text")).to_have_text([ALICE, BOB])
    box = entry.get_by_role("textbox")
    await box.fill(OLGA)
    await box.press("Enter")
    await expect(alice.locator("#lh-messages .chat-text")).to_have_text([ALICE, BOB, OLGA])

    forged = await bob.evaluate(FORGE, [ALICE, FORGED])
    assert forged["ids"][0].startswith(forged["prefix"] + "-")
    everything = [ALICE, BOB, OLGA, *FORGED]
    alice_list, bob_list = alice.locator("#lh-messages"), bob.locator("#lh-messages")
    await expect(alice_list.locator(".chat-text")).to_have_text(everything)
    await expect(bob_list.locator(".chat-text")).to_have_text(everything)
    await expect(entry.locator(".chat-text")).to_have_text(everything)

    for attempt in ("before reload", "after reload"):
        await expect(alice_list.locator(".mine .chat-text")).to_have_text([ALICE])
        assert await names(alice_list) == ["You", "Participant 2", "Olga", "Participant 2",
                                           "Participant 2"], attempt
        if attempt == "before reload":
            await alice.reload()
            await alice.locator("#lh-chat-icon").click()
            await expect(alice_list.locator(".chat-text")).to_have_text(everything)
    await expect(bob_list.locator(".mine .chat-text")).to_have_text([BOB, *FORGED])
    assert await names(bob_list) == ["Participant 1", "You", "Olga", "You", "You"]
    assert await names(entry) == ["Participant 1", "Participant 2", "You", "Participant 2",
                                  "Participant 2"]
    await alice.screenshot(path=str(SCREENS / "help-tab-peers-1366.png"), full_page=True)
    await bob.locator("#lh-chat-icon").click()
    await bob.screenshot(path=str(SCREENS / "help-tab-peers-390.png"), full_page=True)


async def test_a_store_outage_is_retried_until_the_message_is_stored(
        live_server, new_context, monkeypatch) -> None:
    store = live_server.services.store
    assert live_server.services.livehelp.store is store
    add_message = store.add_message
    refused: list[str] = []

    async def failing_for_a_while(message):
        if len(refused) < OUTAGE_FAILURES:
            refused.append(message.client_id)
            raise StoreUnavailable("the test took the database away")
        return await add_message(message)

    monkeypatch.setattr(store, "add_message", failing_for_a_while)
    sent: list[dict] = []
    ann, _ = await open_shared(new_context, live_server, PEER, sent=sent)
    await activate(ann)
    await say(ann, "Is anyone there?")
    mine = ann.locator("#lh-messages .mine")
    await expect(mine.locator(".chat-text")).to_have_text(["Is anyone there?"])
    await expect(mine.locator(".chat-state")).to_have_count(0, timeout=15000)  # stored, shown once

    assert len(refused) == OUTAGE_FAILURES
    assert [frame["client_id"] for frame in sent] == [refused[0]] * (OUTAGE_FAILURES + 1)
    (stored,) = await store.get_messages(await conversation_of(ann))
    assert (stored.client_id, stored.text) == (refused[0], "Is anyone there?")


async def test_a_message_too_long_is_not_sent_and_says_why(
        live_server, config, new_context) -> None:
    config.max_chat_chars = 20
    sent: list[dict] = []
    ann, _ = await open_shared(new_context, live_server, PEER, sent=sent)
    await activate(ann)
    too_long = "This message is far too long for the limit."
    # The box stops typing at `maxlength`; a script (or an old page) can still send it.
    await ann.locator("#lh-input").evaluate("(box, text) => { box.value = text; }", too_long)
    await ann.locator("#lh-input").press("Enter")
    failed = ann.locator("#lh-messages .mine .chat-state.failed")
    await expect(failed).to_have_text(re.compile(r"^Not sent: .*\b20 characters"))
    await say(ann, "Short one")  # the sentinel: answered after the refusal would be resent
    await expect(ann.locator("#lh-messages .mine .chat-text")).to_have_text([too_long, "Short one"])
    await expect(ann.locator("#lh-messages .chat-state")).to_have_count(1)
    assert [frame["text"] for frame in sent] == [too_long, "Short one"]


async def test_a_monitor_whose_rights_were_removed_says_so_and_stops(
        live_server, new_context) -> None:
    SCREENS.mkdir(exist_ok=True)
    monitor = await open_operator(new_context, live_server, viewport={"width": 1366, "height": 768})
    small = await open_operator(new_context, live_server, "pavel@example.com", "Pavel",
                                viewport={"width": 390, "height": 844})
    ann, _ = await open_shared(new_context, live_server, PEERHELP)
    await go_available(monitor)
    await activate(ann)
    await say(ann, "Hello?")
    await open_entry(entries(small).first)  # Olga's chat: Pavel opens it himself
    for page in (monitor, small):
        await expect(entries(page).first.locator(".chat-text")).to_have_text(["Hello?"])
    sockets = live_server.app.settings["sockets"]
    for email in ("op@example.com", "pavel@example.com"):
        user = await live_server.services.store.get_user_by_email(email)
        assert sockets.close_account(user.id, CLOSE_RIGHTS_REMOVED, RIGHTS_REMOVED_REASON) == 1

    for page in (monitor, small):
        notice = page.get_by_role("status").filter(has_text=RIGHTS_REMOVED_REASON)
        await expect(notice).to_be_visible()
        await expect(notice.get_by_role("link", name="Sign in with another account")).to_have_attribute(
            "href", re.compile(r"/login\?next="))
        await expect(page.locator("#status-toggle")).to_be_disabled()
        await expect(page.locator("#status-toggle")).to_have_text("Not connected")
        await expect(entries(page).first.get_by_role("textbox")).to_be_disabled()
        # The close was handled and nothing is scheduled: the page will not reconnect.
        assert await page.evaluate("""() => {
          const s = window.livehelpMonitor.socket;
          return s.closedForGood && s.ws === null && s.timer === null;
        }""")
    await monitor.screenshot(path=str(SCREENS / "monitor-rights-removed-1366.png"))
    await small.screenshot(path=str(SCREENS / "monitor-rights-removed-390.png"), full_page=True)


async def test_what_an_operator_types_while_disconnected_goes_once_back(
        live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server)
    ann, _ = await open_shared(new_context, live_server, PEERHELP)
    await go_available(monitor)
    await activate(ann)
    await say(ann, "Hello?")
    entry = entries(monitor).first
    await expect(entry.locator(".chat-text")).to_have_text(["Hello?"])
    # The Monitor's connection drops and stays down (its reconnect is held) while the
    # operator types: the messages wait as "sending…".
    await monitor.evaluate("""() => {
      const live = window.livehelpMonitor.socket;
      const connect = live.connect.bind(live);
      window.held = true;
      live.connect = () => (window.held ? (live.timer = setTimeout(() => live.connect(), 50)) : connect());
      live.ws.close();
    }""")
    await expect(monitor.locator("#connection")).to_have_text("Disconnected — reconnecting…")
    replies = ["One moment", "Let me look", "Here it is"]
    box = entry.get_by_role("textbox")
    for reply in replies:
        await box.fill(reply)
        await box.press("Enter")
    await expect(entry.locator(".chat-state")).to_have_text(["sending…"] * 3)
    await monitor.evaluate("window.held = false")
    await expect(ann.locator("#lh-messages .chat-text")).to_have_text(["Hello?", *replies])
    await expect(entry.locator(".chat-state")).to_have_count(0)
    await expect(entry.locator(".chat-message.mine .chat-text")).to_have_text(replies)
    stored = await live_server.services.store.get_messages(await conversation_of(ann))
    assert [message.text for message in stored] == ["Hello?", *replies]
