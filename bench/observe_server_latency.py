"""The server's share of keystroke → observe-view latency, without browsers.

bench/observe_latency.py measures the whole path in Chromium; on a 2-core machine
twenty-one browser renderers compete with the server for the CPU. This script
keeps only the server in the path: N interviewee sockets report the
`cobrowse_demo` "about" screen, one operator socket observes all N, then every
interviewee sends a `field` update every --delay-ms. Latency is the time from
writing the `field` frame to the operator's socket receiving its `observe_field`
(one process, one clock).

    python bench/observe_server_latency.py                  # 1 and 20 sessions
    python bench/observe_server_latency.py --sessions 50 --keys 100

Bounded (a fixed number of keys, timeouts on every wait), loopback only; prints
figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    LiveHelpProcess,
    connect,
    open_store,
    percentile,
    receive,
    seed,
)

INTERVIEW = "cobrowse_demo"
SCREEN = "about"
FIELD = "first_name"


async def run(sessions: int, keys: int, delay_ms: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="livehelp-observe-") as directory:
        data = Path(directory)
        store = open_store("sqlite", data)
        await store.open()
        records, (operator,) = await seed(store, sessions, 1, interview=INTERVIEW)
        await store.close()
        server = LiveHelpProcess(data).start()
        try:
            watcher = await connect(server.ws_url("ws/monitor"), server.user_cookie(operator))
            await receive(watcher, "monitor")
            users = []
            for index, record in enumerate(records):
                ws = await connect(server.ws_url(f"ws/user/{record.id}"),
                                   server.session_cookie(record, f"observer-{index}"))
                state = await receive(ws, "state")
                await ws.write_message(json.dumps({"type": "screen", "screen": SCREEN,
                                                   "values": {}}))
                key = f"{record.id}|{state['participant']}"
                users.append((key, ws))
            for key, _ in users:
                await watcher.write_message(json.dumps({"type": "observe", "session": key}))
                while (await receive(watcher, "observe_screen"))["screen"] is None:
                    await asyncio.sleep(0.01)
            sent: dict[tuple[str, int], float] = {}
            latencies: list[float] = []

            async def type_in(key: str, ws) -> None:
                for length in range(1, keys + 1):
                    sent[key, length] = time.perf_counter()
                    await ws.write_message(json.dumps(
                        {"type": "field", "name": FIELD, "value": "x" * length}))
                    await asyncio.sleep(delay_ms / 1000)

            async def watch() -> None:
                while len(latencies) < sessions * keys:
                    message = await receive(watcher, "observe_field", timeout=20)
                    began = sent.get((message["session"], len(message["value"])))
                    if began is not None:
                        latencies.append(time.perf_counter() - began)

            await asyncio.gather(watch(), *(type_in(key, ws) for key, ws in users))
            return latencies
        finally:
            server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--delay-ms", type=int, default=60)
    args = parser.parse_args()
    print(f"field frame -> operator's observe_field, {args.keys} keys per session, "
          f"{args.delay_ms} ms apart (server only, no browsers)")
    print("sessions  samples   p50 ms   p95 ms   p99 ms   max ms")
    for sessions in args.sessions:
        values = sorted(v * 1000 for v in await run(sessions, args.keys, args.delay_ms))
        print(f"{sessions:8d} {len(values):8d} {percentile(values, 0.5):8.1f} "
              f"{percentile(values, 0.95):8.1f} {percentile(values, 0.99):8.1f} {values[-1]:8.1f}")


if __name__ == "__main__":
    asyncio.run(main())
