"""Keystroke → observe-view latency in real browsers (issue 5's goal: p99 < 100 ms).

Starts a livehelp server process on 127.0.0.1 with a fresh data directory, one
operator's Monitor in Debian's Chromium and N interviewee pages (one browser
context each, the `cobrowse_demo` interview). The operator observes every
session; then every interviewee types at once. For each keystroke the latency
is the time from the key's `keydown` in the user's page to the moment the
operator's observe view holds the new value (both stamped with
performance.timeOrigin + performance.now(), the same system clock).

    python bench/observe_latency.py                 # 1 and 20 sessions
    python bench/observe_latency.py --sessions 1 5 --keys 30

Bounded: a fixed number of keystrokes per page, timeouts on every wait; loopback only.
Prints figures; asserts no timings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
INTERVIEW = "cobrowse_demo"
START_TIMEOUT_SECONDS = 60.0
WAIT_MS = 20_000
# A person types a character every 100-200 ms; 60 ms is a fast typist.
DEFAULT_KEY_DELAY_MS = 60

# Operator page: stamp each observe_field once the view's input shows the value.
OPERATOR_PROBE = """() => {
  window.__seen = [];
  document.addEventListener("livehelp:monitor", (event) => {
    const m = event.detail;
    if (m.type !== "observe_field" || m.name !== "first_name") return;
    const entry = [...document.querySelectorAll("#sessions > li.entry")]
      .find((li) => li.dataset.key === m.session);
    const input = entry && entry.querySelector('.observe-view input[data-field="first_name"]');
    if (input && input.value === m.value) {
      window.__seen.push([m.session, m.value.length, performance.timeOrigin + performance.now()]);
    }
  });
}"""
# User page: stamp each keydown in the first-name box (before the value changes).
USER_PROBE = """() => {
  window.__keys = [];
  document.getElementById("field-first_name").addEventListener("keydown",
    () => window.__keys.push(performance.timeOrigin + performance.now()), true);
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path) -> tuple[subprocess.Popen, int, str]:
    """The server as its own process; returns it, its port and the first admin's password."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    password = ""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.strip().startswith("password:"):
            password = line.split(":", 1)[1].strip()
        if "listening on" in line:
            return process, port, password
    process.kill()
    raise RuntimeError("the livehelp server did not start")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def open_operator(browser: Browser, base: str, password: str) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    await page.goto(base + "login")
    await page.get_by_label("Email").fill("admin@localhost")
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()
    await page.goto(base + "monitor")
    await page.wait_for_selector("#status-toggle:not([disabled])", timeout=WAIT_MS)
    await page.evaluate(OPERATOR_PROBE)
    return page


async def open_user(browser: Browser, base: str) -> tuple[Page, str]:
    context = await browser.new_context(viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    await page.goto(base + f"interview/{INTERVIEW}")
    await page.wait_for_function("() => window.livehelpUserChat && window.livehelpUserChat.socket.isOpen",
                                 timeout=WAIT_MS)
    await page.evaluate(USER_PROBE)
    return page, await page.locator("main").get_attribute("data-session")


async def run(browser: Browser, sessions: int, keys: int, delay_ms: int) -> list[float]:
    """One scenario on a fresh server: `sessions` users observed at once, `keys` keystrokes each."""
    with tempfile.TemporaryDirectory(prefix="observe-bench-") as data_dir:
        process, port, password = start_server(Path(data_dir))
        base = f"http://127.0.0.1:{port}/"
        try:
            operator = await open_operator(browser, base, password)
            users = await asyncio.gather(*(open_user(browser, base) for _ in range(sessions)))
            await operator.wait_for_function(
                f"() => document.querySelectorAll('#sessions > li.entry').length >= {sessions}",
                timeout=WAIT_MS)
            keys_of = {}
            for entry in await operator.locator("#sessions > li.entry").all():
                key = await entry.get_attribute("data-key")
                keys_of[key.split("|")[0]] = key
                await entry.get_by_role("button", name="Observe").click()
            await operator.wait_for_function(
                "n => document.querySelectorAll('.observe-view input[data-field=\"first_name\"]').length >= n",
                arg=sessions, timeout=WAIT_MS)
            text = ("abcdefghijklmnopqrstuvwxyz" * 4)[:keys]

            async def type_in(page: Page) -> None:
                await page.locator("#field-first_name").click()
                await page.keyboard.type(text, delay=delay_ms)

            await asyncio.gather(*(type_in(page) for page, _ in users))
            await operator.wait_for_function(
                "n => window.__seen.length >= n", arg=sessions * keys, timeout=WAIT_MS)
            seen = await operator.evaluate("window.__seen")
            arrived = {(key, length): stamp for key, length, stamp in seen}
            latencies = []
            for page, session_id in users:
                pressed = await page.evaluate("window.__keys")
                key = keys_of[session_id]
                for index, stamp in enumerate(pressed):
                    if (key, index + 1) in arrived:
                        latencies.append(arrived[(key, index + 1)] - stamp)
            for context in browser.contexts:
                await context.close()
            return latencies
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 20],
                        help="observed sessions at once, one scenario each (default: 1 20)")
    parser.add_argument("--keys", type=int, default=50, help="keystrokes per page (max 104)")
    parser.add_argument("--delay-ms", type=int, default=DEFAULT_KEY_DELAY_MS,
                        help="pause between keystrokes in each page (default 60)")
    args = parser.parse_args(argv)
    keys = max(1, min(args.keys, 104))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            print(f"keystroke -> operator observe view, {keys} keys per page, "
                  f"{args.delay_ms} ms apart, {os.cpu_count()} CPUs")
            print(f"{'sessions':>8} {'samples':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
            for sessions in args.sessions:
                latencies = await run(browser, sessions, keys, args.delay_ms)
                print(f"{sessions:>8} {len(latencies):>8} {percentile(latencies, 50):>8.1f} "
                      f"{percentile(latencies, 95):>8.1f} {percentile(latencies, 99):>8.1f} "
                      f"{max(latencies):>8.1f}", flush=True)
        finally:
            await browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
