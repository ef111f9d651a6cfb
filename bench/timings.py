"""The timings the tests leave out: they check what happens, this measures how soon.

- Closed tab → "offline" on the Monitor: an interviewee socket closes, an operator
  socket on the server process waits for that entry's `session` update with status
  `offline` (target <= 2 s; `offline seconds` is 1 s, checked every 0.5 s).
- The event-loop lag sampler of /metrics, in this process: samples per second while
  idle (it wakes every 20 ms: 50/s), and how late it reports the loop after blocking it
  for 20, 50 and 100 ms (target: at least the block less one sampling interval).
- The SQLite store while another connection holds the write lock for 300 ms: the
  longest single step of the event loop (asyncio's debug-mode timing of each
  callback), while a chat message, a session and an audit entry wait for the lock
  (target: well under tests/test_sqlite_store.py's 250 ms bound; a store that waited
  on the loop would stall it for the whole wait).

    python bench/timings.py
    python bench/timings.py --rounds 20

Bounded (a fixed number of rounds, timeouts on every wait), loopback only; prints
figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import LiveHelpProcess, connect, open_store, percentile, receive, seed, verdict
from handlers.metrics import LAG_SAMPLE_SECONDS, LoopLagSampler
from state.store.base import AuditEntry, ChatMessage, SessionRecord
from state.store.sqlite import SQLiteStore

OFFLINE_TARGET_SECONDS = 2.0
BLOCKS_MS = (20, 50, 100)
LOCK_HELD_SECONDS = 0.3
STEP_BOUND_SECONDS = 0.25  # tests/test_sqlite_store.py's LONGEST_STEP_SECONDS


async def offline_after_close(rounds: int) -> list[float]:
    """Seconds from closing an interviewee's socket to its entry showing offline."""
    with tempfile.TemporaryDirectory(prefix="livehelp-timings-") as directory:
        data = Path(directory)
        store = open_store("sqlite", data)
        await store.open()
        records, (operator,) = await seed(store, rounds, 1)
        await store.close()
        server = LiveHelpProcess(data).start()
        try:
            monitor = await connect(server.ws_url("ws/monitor"), server.user_cookie(operator))
            await receive(monitor, "monitor")
            figures = []
            for index, record in enumerate(records):
                ws = await connect(server.ws_url(f"ws/user/{record.id}"),
                                   server.session_cookie(record, f"timings-{index}"))
                await receive(ws, "state")
                ws.close()
                closed = time.perf_counter()
                while True:
                    entry = (await receive(monitor, "session", timeout=10))["session"]
                    if entry["session"] == record.id and entry["status"] == "offline":
                        figures.append(time.perf_counter() - closed)
                        break
            monitor.close()
            return figures
        finally:
            server.stop()


async def lag_sampler() -> tuple[float, list[tuple[int, float]]]:
    """(samples per second while idle, [(block ms, lag reported after it, ms)])."""
    sampler = LoopLagSampler()
    sampler.start()
    await asyncio.sleep(1.0)
    rate = len(sampler.recent) / 1.0
    reported = []
    for block_ms in BLOCKS_MS:
        taken = len(sampler.recent)
        time.sleep(block_ms / 1000)  # noqa: ASYNC251  (the stall being measured)
        while len(sampler.recent) == taken:
            await asyncio.sleep(0.001)
        reported.append((block_ms, sampler.recent[taken][1] * 1000))
        await asyncio.sleep(0.1)
    sampler.stop()
    return rate, reported


@contextlib.contextmanager
def loop_steps() -> Iterator[list[float]]:
    """Durations of the event loop's steps longer than 1 ms (asyncio debug mode)."""
    loop = asyncio.get_running_loop()
    steps: list[float] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if str(record.msg).startswith("Executing %s took"):
                steps.append(float(record.args[1]))

    handler, logger = Collect(logging.WARNING), logging.getLogger("asyncio")
    logger.addHandler(handler)
    logger.propagate = False  # one line per step would flood the terminal
    loop.slow_callback_duration = 0.001
    loop.set_debug(True)
    try:
        yield steps
    finally:
        loop.slow_callback_duration = float("inf")  # not the step running this, either
        loop.set_debug(False)
        logger.removeHandler(handler)
        logger.propagate = True


async def sqlite_step_while_locked() -> tuple[float, float]:
    """(longest loop step, seconds until the writes were stored after the lock went)."""
    with tempfile.TemporaryDirectory(prefix="livehelp-timings-") as directory:
        path = Path(directory) / "livehelp.sqlite3"
        store = SQLiteStore(path)
        await store.open()
        other = sqlite3.connect(path, isolation_level=None)
        try:
            message = ChatMessage(conversation="c", session_id="s", sender_key="u:a",
                                  sender_role="user", text="during", client_id="c-1")
            await store.add_message(dataclasses.replace(message, client_id="c-0"))
            with loop_steps() as steps:
                other.execute("BEGIN IMMEDIATE")
                pending = [store.add_message(message),
                           store.save_session(SessionRecord(id="s", interview="bench")),
                           store.add_audit(AuditEntry("u", "a@bench.invalid", "block", "s"))]
                writes = asyncio.ensure_future(asyncio.gather(*pending))
                await asyncio.sleep(LOCK_HELD_SECONDS)
                other.execute("COMMIT")
                released = time.perf_counter()
                await asyncio.wait_for(writes, 10)
                stored = time.perf_counter() - released
            return max(steps, default=0.0), stored
        finally:
            other.close()
            await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="closed tabs to time")
    args = parser.parse_args()

    offline = sorted(await offline_after_close(args.rounds))
    print(f"closed tab -> offline on the Monitor, {len(offline)} tabs: "
          f"p50 {percentile(offline, 0.5) * 1000:.0f} ms, max {offline[-1] * 1000:.0f} ms "
          f"(target <= {OFFLINE_TARGET_SECONDS * 1000:.0f} ms: "
          f"{verdict(offline[-1] <= OFFLINE_TARGET_SECONDS)})")

    rate, reported = await lag_sampler()
    print(f"lag sampler, idle: {rate:.0f} samples/s (wakes every "
          f"{LAG_SAMPLE_SECONDS * 1000:.0f} ms: {1 / LAG_SAMPLE_SECONDS:.0f}/s)")
    for block_ms, lag_ms in reported:
        least = block_ms - LAG_SAMPLE_SECONDS * 1000
        print(f"lag sampler, loop blocked {block_ms} ms: reported {lag_ms:.1f} ms late "
              f"(target >= {least:.0f} ms: {verdict(lag_ms >= least)})")

    longest, stored = await sqlite_step_while_locked()
    step = f"{longest * 1000:.1f} ms" if longest else "under 1 ms"
    print(f"SQLite, write lock held elsewhere {LOCK_HELD_SECONDS * 1000:.0f} ms: longest "
          f"event-loop step {step} (target < {STEP_BOUND_SECONDS * 1000:.0f} "
          f"ms: {verdict(longest < STEP_BOUND_SECONDS)}); writes stored "
          f"{stored * 1000:.1f} ms after the lock was released")


if __name__ == "__main__":
    asyncio.run(main())
