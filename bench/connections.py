"""Hold N interviewee sockets (live help on) plus operators on the Monitor, then the
same number of sockets on a bare Tornado echo server, and compare.

Prints RSS per socket for both and their ratio (target: livehelp <= 2x bare
Tornado), and the livehelp server's event-loop lag p50/p99 while the sockets are
held (target: p99 < 20 ms), as measured inside the server by /metrics.

    python bench/connections.py                 # 10,000 sessions, 20 operators
    python bench/connections.py --sessions 1000 --hold 5
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
    drain,
    lag_figures,
    open_store,
    raise_fd_limit,
    ratio,
    receive,
    rss_bytes,
    scrape_metrics,
    seed,
    start_echo,
    stop_process,
    verdict,
)

# Enough parallel handshakes to keep the server busy without a SYN backlog overflow.
CONNECT_CONCURRENCY = 100
# Sockets the generator and each server need besides the held ones (files, store, logs).
SPARE_FDS = 500
SETTLE_SECONDS = 1.0


async def open_all(count: int, opener, concurrency: int) -> tuple[list, float]:
    """Open `count` sockets with `opener(i)`, `concurrency` at a time; (sockets, seconds)."""
    sockets: list = [None] * count
    next_index = 0
    started = time.perf_counter()

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            index, next_index = next_index, next_index + 1
            sockets[index] = await opener(index)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    return sockets, time.perf_counter() - started


async def livehelp_run(args: argparse.Namespace, directory: Path) -> dict[str, float]:
    store = open_store("sqlite", directory)
    await store.open()
    records, users = await seed(store, args.sessions, args.operators)
    await store.close()
    server = LiveHelpProcess(directory, {"live help": {"ping seconds": 30.0}, **LOAD_LIMITS}).start()
    drains: list[asyncio.Task] = []
    try:
        await scrape_metrics(server)  # starts the lag sampler before the load
        await asyncio.sleep(SETTLE_SECONDS)
        rss_before = rss_bytes(server.pid)

        async def open_operator(index: int):
            ws = await connect(server.ws_url("ws/monitor"), server.user_cookie(users[index]))
            await receive(ws, "monitor")
            drains.append(asyncio.create_task(drain(ws)))
            return ws

        async def open_user(index: int):
            record = records[index]
            ws = await connect(server.ws_url(f"ws/user/{record.id}"),
                               server.session_cookie(record, f"bench-browser-{index}"))
            await receive(ws, "state")
            drains.append(asyncio.create_task(drain(ws)))
            return ws

        operators, _ = await open_all(args.operators, open_operator, 1)
        users_ws, seconds = await open_all(args.sessions, open_user, args.concurrency)
        ramp = await scrape_metrics(server)
        await asyncio.sleep(args.hold)
        held = await scrape_metrics(server)
        await asyncio.sleep(SETTLE_SECONDS)
        rss_after = rss_bytes(server.pid)
        for ws in operators + users_ws:
            ws.close()
        sockets = args.sessions + args.operators
        return {
            "sockets": sockets, "connect_seconds": seconds,
            "rss_before": rss_before, "rss_after": rss_after,
            "per_socket": (rss_after - rss_before) / sockets,
            "sessions_listed": held.get("livehelp_sessions", float("nan")),
            "operators_online": held.get("livehelp_operators_online", float("nan")),
            "ramp_lag": lag_figures(ramp), "held_lag": lag_figures(held),
        }
    finally:
        for task in drains:
            task.cancel()
        server.stop()


async def echo_run(args: argparse.Namespace) -> dict[str, float]:
    process, port = start_echo()
    try:
        await asyncio.sleep(SETTLE_SECONDS)
        rss_before = rss_bytes(process.pid)
        sockets = args.sessions + args.operators

        async def open_echo(index: int):
            ws = await connect(f"ws://127.0.0.1:{port}/echo")
            await ws.write_message("hello")
            await ws.read_message()
            return ws

        held, seconds = await open_all(sockets, open_echo, args.concurrency)
        await asyncio.sleep(args.hold)
        rss_after = rss_bytes(process.pid)
        for ws in held:
            ws.close()
        return {"sockets": sockets, "connect_seconds": seconds, "rss_before": rss_before,
                "rss_after": rss_after, "per_socket": (rss_after - rss_before) / sockets}
    finally:
        stop_process(process)


def report(live: dict, echo: dict) -> None:
    mib = 1024 * 1024
    print(f"livehelp: {live['sockets']:,} sockets ({live['sessions_listed']:.0f} sessions listed,"
          f" {live['operators_online']:.0f} operators online) opened in"
          f" {live['connect_seconds']:.1f} s; RSS {live['rss_before'] / mib:.1f} ->"
          f" {live['rss_after'] / mib:.1f} MiB = {live['per_socket'] / 1024:.1f} KiB per socket")
    print(f"bare echo: {echo['sockets']:,} sockets opened in {echo['connect_seconds']:.1f} s;"
          f" RSS {echo['rss_before'] / mib:.1f} -> {echo['rss_after'] / mib:.1f} MiB"
          f" = {echo['per_socket'] / 1024:.1f} KiB per socket")
    memory = ratio(live["per_socket"], echo["per_socket"])
    print(f"RSS per socket ratio livehelp/echo: {memory:.2f}x (target <= 2x: {verdict(memory <= 2)})")
    p50, p99, worst = live["ramp_lag"]
    print(f"loop lag while connecting (last 10 s): p50 {p50:.1f} ms, p99 {p99:.1f} ms,"
          f" max {worst:.1f} ms")
    p50, p99, worst = live["held_lag"]
    print(f"loop lag while held: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.1f} ms"
          f" (target p99 < 20 ms: {verdict(p99 < 20)})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--operators", type=int, default=20)
    parser.add_argument("--hold", type=float, default=12.0,
                        help="seconds to hold the sockets before measuring (>10: lag window)")
    parser.add_argument("--concurrency", type=int, default=CONNECT_CONCURRENCY)
    args = parser.parse_args()
    limit = raise_fd_limit(args.sessions + args.operators + SPARE_FDS)
    if limit < args.sessions + args.operators + SPARE_FDS:
        parser.error(f"open-file limit {limit} is too low for {args.sessions} sessions")
    with tempfile.TemporaryDirectory(prefix="livehelp-bench-") as directory:
        live = await livehelp_run(args, Path(directory))
    echo = await echo_run(args)
    report(live, echo)


if __name__ == "__main__":
    asyncio.run(main())
