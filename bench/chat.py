"""Chat throughput and latency: user -> operator messages stored, delivered and
acknowledged, against a bare Tornado echo server measured in the same run.

Each of `--users` interviewees sends messages one after another (the next once
the previous is acknowledged), `--messages` in all, to `--operators` operators
on the Monitor. The baseline does the same with the same number of sockets on
a bare echo server. Printed per store (SQLite, MongoDB through nx-27017):
msgs/s, p50/p99 latency to the ack and to the operator, and the ratios
(targets: throughput >= 0.5x echo, ack p99 <= 3x echo p99).

    python bench/chat.py                            # both stores, 5,000 messages each
    python bench/chat.py --stores sqlite --messages 20000 --users 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
from pathlib import Path

from common import (
    LOAD_LIMITS,
    CpuClock,
    LiveHelpProcess,
    connect,
    lag_figures,
    open_store,
    percentile,
    raise_fd_limit,
    ratio,
    receive,
    scrape_metrics,
    seed,
    start_echo,
    start_nx,
    stop_process,
    store_config,
    verdict,
)

# How a chat event starts in a frame, with either spacing of JSON encoders.
CHAT_EVENT, CHAT_EVENT_SPACED = '"type":"chat"', '"type": "chat"'
# A typical chat line; both runs send frames of this size.
TEXT = "Hello, I am stuck on the question about my landlord's deposit. Can you help?"


def shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def livehelp_chat(args: argparse.Namespace, database: str, directory: Path,
                        mongodb_uri: str = "", store_pid: int | None = None) -> dict:
    store = open_store(database, directory, mongodb_uri)
    await store.open()
    records, users = await seed(store, args.users, args.operators)
    await store.close()
    config = {**store_config(database, directory, mongodb_uri), **LOAD_LIMITS}
    server = LiveHelpProcess(directory, config).start()
    delivered: dict[str, float] = {}
    readers: list[asyncio.Task] = []
    try:
        await scrape_metrics(server)  # starts the lag sampler

        chats_seen = [0] * len(users)

        async def operator_reader(ws, number: int) -> None:
            # The generator shares the 2 cores with the server: only the first operator's
            # frames are parsed (for delivery latency; every operator gets the same events
            # at the same moment); the others just count the chat events they receive.
            while (raw := await ws.read_message()) is not None:
                chats = raw.count(CHAT_EVENT) + raw.count(CHAT_EVENT_SPACED)
                chats_seen[number] += chats
                if number == 0 and chats:
                    decoded = json.loads(raw)
                    now = time.perf_counter()
                    for message in decoded if isinstance(decoded, list) else [decoded]:
                        if message["type"] == "chat":
                            delivered.setdefault(message["client_id"], now)

        for number, user in enumerate(users):
            ws = await connect(server.ws_url("ws/monitor"), server.user_cookie(user))
            await receive(ws, "monitor")
            readers.append(asyncio.create_task(operator_reader(ws, number)))
        sockets = []
        for index, record in enumerate(records):
            ws = await connect(server.ws_url(f"ws/user/{record.id}"),
                               server.session_cookie(record, f"chat-browser-{index}"))
            await receive(ws, "state")
            await ws.write_message(json.dumps({"type": "activate"}))
            while not (await receive(ws, "state"))["active"]:
                pass
            sockets.append(ws)

        sent: dict[str, float] = {}
        ack_latency: list[float] = []

        async def talk(index: int, ws, count: int) -> None:
            for number in range(count):
                client_id = f"u{index}-m{number}"
                sent[client_id] = time.perf_counter()
                await ws.write_message(json.dumps(
                    {"type": "chat", "client_id": client_id, "text": TEXT}))
                while True:
                    message = await receive(ws)
                    if message["type"] == "error":
                        raise RuntimeError(f"server refused a message: {message}")
                    if message["type"] == "ack" and message["client_id"] == client_id:
                        ack_latency.append(time.perf_counter() - sent[client_id])
                        break

        started, clock = time.perf_counter(), CpuClock(server.pid, *([store_pid] if store_pid else []))
        await asyncio.gather(*(talk(i, ws, n) for i, (ws, n) in
                               enumerate(zip(sockets, shares(args.messages, args.users)))))
        elapsed = time.perf_counter() - started
        used, own_cpu = clock.used()
        metrics = await scrape_metrics(server)
        await asyncio.sleep(0.5)  # let the last deliveries arrive
        delivery = [delivered[c] - sent[c] for c in sent if c in delivered]
        for ws in sockets:
            ws.close()
        return {"messages": len(ack_latency), "seconds": elapsed,
                "rate": len(ack_latency) / elapsed,
                "ack_p50": percentile(ack_latency, 0.5), "ack_p99": percentile(ack_latency, 0.99),
                "ack_max": max(ack_latency),
                "delivered": len(delivery), "every_operator": min(chats_seen),
                "delivery_p50": percentile(delivery, 0.5),
                "delivery_p99": percentile(delivery, 0.99),
                "stored": metrics.get("livehelp_messages_stored", float("nan")),
                "lag": lag_figures(metrics), "server_cpu": used[0], "client_cpu": own_cpu,
                "store_cpu": used[1] if store_pid else None}
    finally:
        for task in readers:
            task.cancel()
        server.stop()


async def echo_chat(args: argparse.Namespace) -> dict:
    process, port = start_echo()
    try:
        sockets = [await connect(f"ws://127.0.0.1:{port}/echo") for _ in range(args.users)]
        latency: list[float] = []
        frame = json.dumps({"type": "chat", "client_id": "u0-m0", "text": TEXT})

        async def talk(ws, count: int) -> None:
            for _ in range(count):
                begun = time.perf_counter()
                await ws.write_message(frame)
                await ws.read_message()
                latency.append(time.perf_counter() - begun)

        started, clock = time.perf_counter(), CpuClock(process.pid)
        await asyncio.gather(*(talk(ws, n) for ws, n in
                               zip(sockets, shares(args.messages, args.users))))
        elapsed = time.perf_counter() - started
        (server_cpu,), own_cpu = clock.used()
        for ws in sockets:
            ws.close()
        return {"messages": len(latency), "seconds": elapsed, "rate": len(latency) / elapsed,
                "p50": percentile(latency, 0.5), "p99": percentile(latency, 0.99),
                "max": max(latency), "server_cpu": server_cpu, "client_cpu": own_cpu}
    finally:
        stop_process(process)


def report(database: str, live: dict, echo: dict) -> None:
    ms = 1000
    print(f"[{database}] livehelp: {live['messages']:,} messages acked in {live['seconds']:.1f} s"
          f" = {live['rate']:,.0f} msgs/s; ack p50 {live['ack_p50'] * ms:.1f} ms,"
          f" p99 {live['ack_p99'] * ms:.1f} ms, max {live['ack_max'] * ms:.1f} ms; to operator p50 {live['delivery_p50'] * ms:.1f} ms,"
          f" p99 {live['delivery_p99'] * ms:.1f} ms ({live['delivered']:,} delivered, every"
          f" operator got >= {live['every_operator']:,}, {live['stored']:.0f} stored)")
    print(f"[{database}] bare echo: {echo['messages']:,} messages in {echo['seconds']:.1f} s"
          f" = {echo['rate']:,.0f} msgs/s; p50 {echo['p50'] * ms:.1f} ms,"
          f" p99 {echo['p99'] * ms:.1f} ms, max {echo['max'] * ms:.1f} ms")
    for name, run in (("livehelp", live), ("bare echo", echo)):
        print(f"[{database}] {name} CPU per message: server {run['server_cpu'] / run['messages'] * 1e6:.0f} us"
              f" ({run['server_cpu'] / run['seconds']:.0%} of a core),"
              f" load generator {run['client_cpu'] / run['messages'] * 1e6:.0f} us"
              f" ({run['client_cpu'] / run['seconds']:.0%} of a core)")
    if live["store_cpu"] is not None:
        print(f"[{database}] nx-27017 (the MongoDB server) CPU per message:"
              f" {live['store_cpu'] / live['messages'] * 1e6:.0f} us"
              f" ({live['store_cpu'] / live['seconds']:.0%} of a core)")
    throughput = ratio(live["rate"], echo["rate"])
    tail = ratio(live["ack_p99"], echo["p99"])
    print(f"[{database}] throughput ratio livehelp/echo: {throughput:.2f}x"
          f" (target >= 0.5x: {verdict(throughput >= 0.5)})")
    print(f"[{database}] p99 ratio livehelp ack/echo: {tail:.2f}x (target <= 3x: {verdict(tail <= 3)})")
    p50, p99, worst = live["lag"]
    print(f"[{database}] server loop lag during chat: p50 {p50:.1f} ms, p99 {p99:.1f} ms,"
          f" max {worst:.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="sqlite,mongodb",
                        help="comma-separated: sqlite, mongodb (nx-27017)")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--operators", type=int, default=20)
    args = parser.parse_args()
    raise_fd_limit(4 * (args.users + args.operators) + 500)
    for database in [s.strip() for s in args.stores.split(",") if s.strip()]:
        with tempfile.TemporaryDirectory(prefix="livehelp-chat-") as directory:
            nx: subprocess.Popen | None = None
            uri = ""
            if database == "mongodb":
                nx, uri = start_nx(Path(directory) / "nx")
            try:
                live = await livehelp_chat(args, database, Path(directory) / "server", uri,
                                           nx.pid if nx else None)
            finally:
                if nx is not None:
                    stop_process(nx)
        echo = await echo_chat(args)
        report(database, live, echo)


if __name__ == "__main__":
    asyncio.run(main())
