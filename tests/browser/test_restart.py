"""A server restart in the middle of a burst, in Chromium: an interviewee types 300
messages through the page's own composer while the server process is stopped
(SIGTERM: graceful, close code 1012; SIGKILL: nothing graceful at all) and started
again on the same port and data directory. Afterwards both the interviewee's page and
the operator's Monitor show every message exactly once, in the order typed, none "Not
sent", and the store holds each once (B1; docs/protocol.md)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from bench.common import LiveHelpProcess, free_port
from state.accounts import users
from state.store.sqlite import SQLiteStore
from tests.browser.conftest import sign_in
from tests.browser.test_monitor_chat import entries, go_available, open_interviewee
from tests.browser.test_resend import activate

MESSAGES = 300
# The burst: the first part is typed and stored while the server runs; the second is
# typed at once into a server paused with SIGSTOP, so that all of it is surely in
# flight, none handled, when the signal comes; the rest is typed while the server
# stops, is away and comes back.
STORED_FIRST = 50
IN_FLIGHT = 100
# Rate limits out of the way (a burst is what is tested, not the limit); small history
# pages, so the reloads at the end page through the history.
CONFIG = {"limits": {"chat burst": 1000, "chat per minute": 100000, "history page messages": 50}}
EMAIL, PASSWORD = "olga@restart.invalid", "correct horse battery"
# Reconnecting takes the socket's backoff (up to 10 s) after the server is back;
# drawing 300 messages on a busy machine takes a few seconds more.
SETTLE_MS = 60000
TEXTS = [f"message {n:03d}" for n in range(MESSAGES)]

# Types the texts into the page's own composer, each sent by the page's submit on
# Enter: the first `holdAt` in one go (this returns once they are on the socket), then,
# once the test says `go` (right after its signal), the rest with a breath between
# each. A message the page did not take (the box was disabled) is typed again, as a
# person would.
BURST = """([texts, holdAt]) => {
  window.burst = { typed: 0, go: false };
  const input = document.getElementById("lh-input");
  const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
  const enter = () => input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
  for (const text of texts.slice(0, holdAt)) {
    input.value = text;
    enter();
    window.burst.typed += 1;
  }
  (async () => {
    for (const text of texts.slice(holdAt)) {
      while (!window.burst.go) await pause();
      for (;;) {
        while (input.disabled) await pause();
        input.value = text;
        enter();
        if (input.value === "") break;
        await pause();
      }
      window.burst.typed += 1;
      await pause();
    }
  })();
}"""


# Records, as they happen, what the connection notice said and any "Not sent" shown.
WATCH = """() => {
  window.seen = { notices: [], notSent: [] };
  const notice = document.getElementById("lh-connection");
  new MutationObserver(() => window.seen.notices.push(notice.textContent))
    .observe(notice, { childList: true, subtree: true, characterData: true });
  new MutationObserver((changes) => {
    for (const change of changes) for (const node of change.addedNodes) {
      const failed = node.querySelector && node.querySelector(".chat-state.failed");
      if (failed) window.seen.notSent.push(failed.textContent);
    }
  }).observe(document.getElementById("lh-messages"), { childList: true });
}"""
# Holds back a page's reconnecting (as if its network came back later) until the test
# lets it go: which page is back first decides what the pages must cope with.
# Interviewee first: chat cannot be turned back on until an operator is back, and what
# was typed meanwhile waits. Operator first (its page was away from before the burst,
# so it saw none of what was stored while the server shut down): the interviewee's
# session is listed only after the Monitor's hello was answered, so the Monitor must
# ask for that conversation's history when it appears.
HOLD = """(socket) => {
  const live = window[socket].socket;
  const connect = live.connect.bind(live);
  window.held = true;
  live.connect = () => {
    if (window.held) live.timer = setTimeout(() => live.connect(), 50);
    else connect();
  };
}"""
# A page that is back: socket open, and its hello answered.
BACK = {"livehelpUserChat": "window.livehelpUserChat.socket.isOpen"
                            " && window.livehelpUserChat.statesSinceOpen >= 2",
        "livehelpMonitor": "window.livehelpMonitor.socket.isOpen"
                           " && !document.getElementById('status-toggle').disabled"}

# What the page says while the server is away: after SIGTERM the server said why (1012).
NOTICES = {signal.SIGTERM: "The server is restarting; reconnecting…",
           signal.SIGKILL: "Disconnected — reconnecting…"}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveHelpProcess]:
    """`server.py` as a process on a fixed free port, with one operator account."""
    data = tmp_path / "data"
    process = LiveHelpProcess(data, CONFIG, port=free_port())
    store = SQLiteStore(data / "livehelp.sqlite3")
    await store.open()
    try:
        await users.create_account(store, EMAIL, PASSWORD, ["advocate"], "Olga")
    finally:
        await store.close()
    await asyncio.to_thread(process.start)
    yield process
    await asyncio.to_thread(process.stop)


async def open_monitor(new_context, server: LiveHelpProcess) -> Page:
    page = await (await new_context(viewport={"width": 1280, "height": 900})).new_page()
    await sign_in(page, server, EMAIL, PASSWORD)
    await page.goto(server.url("monitor"))
    await expect(page.locator("#status-toggle")).to_be_enabled()
    return page


async def burst_across_restart(user: Page, server: LiveHelpProcess, sig: int,
                               first: tuple[Page, str], then: tuple[Page, str]) -> tuple[int, int]:
    """Type the burst; stop the process with `sig` in its middle, with the first part in
    flight; start it again on the same port and data directory while the rest is typed;
    let the page `first` reconnect, and `then` the other. (The exit code, how many the
    page had seen stored when the signal went.)"""
    for page, name in (first, then):
        await page.evaluate(HOLD, name)
    if first[1] == "livehelpMonitor":
        await first[0].evaluate("window.livehelpMonitor.socket.ws.close()")
        await first[0].wait_for_function("window.livehelpMonitor.socket.ws === null")
    await user.evaluate(BURST, [TEXTS[:STORED_FIRST], STORED_FIRST])
    await user.wait_for_function(f"window.livehelpUserChat.log.bySeq.size === {STORED_FIRST}")
    server.process.send_signal(signal.SIGSTOP)
    await user.evaluate(BURST, [TEXTS[STORED_FIRST:], IN_FLIGHT])
    stored = await user.evaluate("window.livehelpUserChat.log.bySeq.size") - STORED_FIRST
    server.process.send_signal(sig)
    if sig != signal.SIGKILL:
        server.process.send_signal(signal.SIGCONT)  # it wakes to the frames and the signal
    await user.evaluate("window.burst.go = true")
    code = await asyncio.to_thread(server.process.wait, 30)
    await asyncio.to_thread(server.start)
    for page, name in (first, then):
        await page.evaluate("window.held = false")
        await page.wait_for_function(BACK[name], timeout=SETTLE_MS)
    return code, stored


async def all_shown(page: Page, messages) -> None:
    await expect(messages.locator(".chat-text")).to_have_text(TEXTS, timeout=SETTLE_MS)
    await expect(messages.locator(".chat-state")).to_have_count(0, timeout=SETTLE_MS)


@pytest.mark.parametrize("back_first", ["interviewee", "operator"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_a_burst_across_a_restart_arrives_once_in_order(
        server: LiveHelpProcess, new_context, sig: int, back_first: str) -> None:
    monitor = await open_monitor(new_context, server)
    user = await open_interviewee(new_context, server)
    await go_available(monitor)
    await activate(user)
    conversation = await user.evaluate("window.livehelpUserChat.log.conversation")
    await user.evaluate(WATCH)

    pages = [(user, "livehelpUserChat"), (monitor, "livehelpMonitor")]
    if back_first == "operator":
        pages.reverse()
    exit_code, stored_at_signal = await burst_across_restart(user, server, sig, *pages)
    assert exit_code == (0 if sig == signal.SIGTERM else -signal.SIGKILL), server.log_tail()
    assert stored_at_signal == 0  # all of the second part was in flight

    user_messages = user.locator("#lh-messages")
    entry_messages = entries(monitor).first.locator(".chat-messages")
    for page, messages in ((user, user_messages), (monitor, entry_messages)):
        await all_shown(page, messages)
    await expect(user_messages.locator(".chat-message.mine")).to_have_count(MESSAGES)
    seen = await user.evaluate("window.seen")
    assert seen["notSent"] == []
    assert NOTICES[sig] in seen["notices"], seen["notices"]

    # A fresh page of each pages through the whole history (50 a page) to the same.
    await user.reload()
    await user.locator("#lh-chat-icon").click()
    await monitor.reload()
    for page, messages in ((user, user_messages), (monitor, entry_messages)):
        await all_shown(page, messages)

    await asyncio.to_thread(server.stop)
    store = SQLiteStore(server.data_dir / "livehelp.sqlite3")
    await store.open()
    try:
        stored = await store.get_messages(conversation)
    finally:
        await store.close()
    assert [message.text for message in stored] == TEXTS
    assert len({message.client_id for message in stored}) == MESSAGES
