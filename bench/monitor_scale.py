"""The Monitor with many sessions, in Chromium (issue: the Monitor as a console).

For each size (default 50, 200, 500 listed sessions, about 10 % of them in a chat
with one message each) a fresh server process is seeded and one operator opens the
Monitor in Debian's Chromium at 1366×768. Printed per size:

- draw: milliseconds from navigation start until every session is accounted for on
  the page (the console's count of sessions says N) and its first entries are drawn;
- DOM nodes (`document.getElementsByTagName('*').length`) once drawn;
- entries fully inside the first viewport;
- new-message latency: a user's message sent from this process until its text is in
  the Monitor's DOM (a MutationObserver stamps it with the page's clock; both clocks
  are this machine's), p50 / p99 / max over `--messages` messages to sessions
  spread over the list.

Targets (issue 14): draw < 1 s, DOM < 3,000 nodes with 500 sessions, new message
< 100 ms, ≥ 12 entries in the first viewport.

    .venv/bin/python bench/monitor_scale.py [--sizes 50 200 500] [--messages 30]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from common import (
    LOAD_LIMITS,
    LiveHelpProcess,
    connect,
    open_store,
    percentile,
    receive,
    seed,
)
from playwright.async_api import async_playwright

from state.store.base import OperatorSettings

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1366, "height": 768}
IN_CHAT_SHARE = 0.10

# Installed before the page's own scripts: stamps the page-clock time (ms since the
# epoch) at which each awaited token first appears in the document.
OBSERVER = """
window.__seen = {};
window.__watch = [];
new MutationObserver(() => {
  if (!window.__watch.length) return;
  const text = document.body ? document.body.textContent : "";
  for (const token of window.__watch) {
    if (!(token in window.__seen) && text.includes(token)) {
      window.__seen[token] = performance.timeOrigin + performance.now();
    }
  }
  window.__watch = window.__watch.filter((token) => !(token in window.__seen));
}).observe(document, {subtree: true, childList: true, characterData: true});
"""

FIGURES = """() => {
  const entries = [...document.querySelectorAll('#sessions li.entry')];
  const fully = entries.filter((li) => {
    const box = li.getBoundingClientRect();
    return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
  }).length;
  return {nodes: document.getElementsByTagName('*').length, drawn: entries.length,
          fully_visible: fully};
}"""


async def user_socket(server: LiveHelpProcess, record, index: int):
    ws = await connect(server.ws_url(f"ws/user/{record.id}"),
                       server.session_cookie(record, f"bench-browser-{index}"))
    await receive(ws, "state")
    return ws


async def drain(ws) -> None:
    while await ws.read_message() is not None:
        pass


async def run_size(browser, size: int, messages: int, directory: Path) -> dict:
    store = open_store("sqlite", directory)
    await store.open()
    records, users = await seed(store, size, 2)
    # The Monitor's operator is not available: the chats go to the other one, so no
    # entry opens by itself and the first viewport shows the list as it is.
    await store.save_operator_settings(OperatorSettings(users[0].id, available=False,
                                                        roles=["advocate"]))
    await store.close()
    server = LiveHelpProcess(directory, {"live help": {"ping seconds": 30.0}, **LOAD_LIMITS})
    server.start()
    sockets, tasks = [], []
    try:
        # The second operator holds the chats and answers nobody.
        helper = await connect(server.ws_url("ws/monitor"), server.user_cookie(users[1]))
        await receive(helper, "monitor")
        tasks.append(asyncio.create_task(drain(helper)))
        in_chat = max(1, int(size * IN_CHAT_SHARE))
        for index, record in enumerate(records):
            ws = await user_socket(server, record, index)
            sockets.append(ws)
            if index < in_chat:
                ws.write_message('{"type": "activate"}')
                ws.write_message('{"type": "chat", "client_id": "first", '
                                 f'"text": "Question number {index}"}}')
                await receive(ws, "ack")
            tasks.append(asyncio.create_task(drain(ws)))

        context = await browser.new_context(viewport=VIEWPORT)
        name, value = server.user_cookie(users[0]).split("=", 1)
        await context.add_cookies([{"name": name, "value": value, "url": server.url("")}])
        await context.add_init_script(OBSERVER)
        page = await context.new_page()
        await page.goto(server.url("monitor"))
        await page.wait_for_function(
            "n => document.querySelectorAll('#sessions li.entry').length > 0 &&"
            " document.getElementById('counts').textContent.startsWith(n + ' sessions')",
            arg=size, timeout=60_000)
        drawn_ms = await page.evaluate("performance.now()")
        figures = await page.evaluate(FIGURES)

        latencies = []
        step = max(1, in_chat // messages) if in_chat >= messages else 1
        for number in range(messages):
            target = sockets[(number * step) % in_chat]
            token = f"token-{size}-{number}-{time.monotonic_ns()}"
            await page.evaluate("token => window.__watch.push(token)", token)
            sent = time.time() * 1000
            target.write_message(f'{{"type": "chat", "client_id": "m{number}", '
                                 f'"text": "{token}"}}')
            await page.wait_for_function("token => token in window.__seen", arg=token,
                                         timeout=10_000)
            latencies.append(await page.evaluate("token => window.__seen[token]", token) - sent)
        await context.close()
        return {"size": size, "draw_ms": drawn_ms, **figures,
                "in_chat": in_chat, "latencies": latencies}
    finally:
        for task in tasks:
            task.cancel()
        for ws in sockets:
            ws.close()
        server.stop()


def report(result: dict) -> None:
    latencies = result["latencies"]
    print(f"{result['size']:>5} sessions ({result['in_chat']} in chat): "
          f"drawn in {result['draw_ms']:.0f} ms · {result['nodes']} DOM nodes · "
          f"{result['drawn']} entries drawn, {result['fully_visible']} fully in the first "
          f"viewport · new message p50 {percentile(latencies, 0.50):.1f} ms, "
          f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms "
          f"({len(latencies)} messages)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--messages", type=int, default=30)
    args = parser.parse_args()
    print(f"Monitor in Chromium at {VIEWPORT['width']}×{VIEWPORT['height']}; "
          "targets: drawn < 1000 ms, < 3000 DOM nodes, new message < 100 ms, "
          "≥ 12 entries in the first viewport")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            for size in args.sizes:
                with tempfile.TemporaryDirectory(prefix="monitor-scale-") as directory:
                    report(await run_size(browser, size, args.messages, Path(directory)))
        finally:
            await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
