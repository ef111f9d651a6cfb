"""Send 100,000 hostile frames to both sockets while a real chat goes on beside them.

Attackers (interviewee and operator sockets) send wrong types, missing keys, huge
strings, deep nesting, invalid UTF-8, binary frames and junk JSON, reconnecting
whenever the server closes them. Meanwhile Bob chats with Olga on another
session. Printed: frames/s (and against a bare Tornado echo server fed the same
frames), error replies and closes, crashes (server exits or logged tracebacks:
target 0), the bystander's acks and latency, and server RSS over the run
(target: flat).

    python bench/fuzz.py                    # 100,000 frames
    python bench/fuzz.py --frames 10000 --attackers 4
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import tempfile
import time
from pathlib import Path

import tornado.websocket
from common import (
    LOAD_LIMITS,
    LiveHelpProcess,
    connect,
    open_store,
    percentile,
    raise_fd_limit,
    ratio,
    receive,
    rss_bytes,
    seed,
    start_echo,
    stop_process,
    verdict,
)

TYPES = ["hello", "activate", "deactivate", "chat", "typing", "set_status", "set_roles",
         "set_phone", "take", "block", "unblock", "phone", "observe", "nope", ""]
FIELDS = ["last_seq", "active", "client_id", "text", "typing", "available", "roles", "phone",
          "session", "on"]
# A valid frame after this many hostile ones resets the server's bad-frame count, so
# an attacker is not closed after every 20 (it would be anyway; this keeps it busy).
RESET_EVERY = 15
BYSTANDER_INTERVAL = 0.05
# RSS may grow this much over the run and still count as flat (allocator slack).
FLAT_MIB = 16


def junk(rng: random.Random, depth: int = 0) -> object:
    """A JSON value of a random kind, nested at most three deep."""
    choice = rng.randrange(9 if depth < 3 else 6)
    if choice == 6:
        return [junk(rng, depth + 1) for _ in range(3)]
    if choice == 7:
        return {rng.choice(FIELDS): junk(rng, depth + 1)}
    if choice == 8:
        return {"type": junk(rng, depth + 1)}
    return [None, True, -(2**70), 1e308, "\u0000\ud7ff\u202e", "x" * rng.randrange(200)][choice]


def hostile(rng: random.Random, session_key: str) -> tuple[str | bytes, bool]:
    """One hostile frame: (payload, binary)."""
    kind = rng.randrange(10)
    if kind == 0:
        return json.dumps({"type": rng.choice(TYPES),
                           **{f: junk(rng) for f in rng.sample(FIELDS, 3)}}), False
    if kind == 1:
        return json.dumps({"type": rng.choice(TYPES)}), False  # every key missing
    if kind == 2:
        return json.dumps({"type": "chat", "session": session_key, "client_id": "c",
                           "text": "x" * rng.choice([0, 4001, 20_000, 70_000])}), False
    if kind == 3:
        depth = rng.randrange(100, 30_000)
        return '{"type":"chat","text":' + "[" * depth + "]" * depth + "}", False
    if kind == 4:
        return b'{"type":"chat","text":"\xff\xfe\xc3\x28"}', False  # invalid UTF-8 as text
    if kind == 5:
        return rng.randbytes(rng.randrange(1, 4000)), True
    if kind == 6:
        return rng.choice(["", "{", "null", "[]", "1e999", "NaN", '{"type": 5}', "\u0000"]), False
    if kind == 7:
        return json.dumps(junk(rng)), False
    if kind == 8:
        return json.dumps({"type": "take", "session": rng.choice([session_key, "x" * 300])}), False
    return json.dumps({"type": "set_roles", "roles": ["r"] * rng.randrange(50, 500)}), False


class Attacker:
    """One hostile socket that reconnects whenever the server closes it."""

    def __init__(self, opener, reset: str, final: tuple[str, str], rng: random.Random,
                 session_key: str) -> None:
        self.opener, self.reset, self.rng, self.session_key = opener, reset, rng, session_key
        # A valid frame and the type of its reply: seeing the reply means the server
        # has handled everything sent before it.
        self.final, self.final_reply = final
        self.finals_seen = 0
        self.sent = self.errors = self.closes = 0
        self.ws: tornado.websocket.WebSocketClientConnection | None = None
        self.reader: asyncio.Task | None = None

    async def reopen(self) -> None:
        if self.ws is not None:
            self.closes += 1
            self.ws.close()
        self.ws = await self.opener()
        self.reader = asyncio.create_task(self.read(self.ws))

    async def read(self, ws) -> None:
        while (raw := await ws.read_message()) is not None:
            if '"error"' in raw:
                self.errors += 1
            if re.search(f'"type":\\s*"{self.final_reply}"', raw):
                self.finals_seen += 1

    async def run(self, frames: int) -> None:
        await self.reopen()
        for number in range(frames):
            payload, binary = hostile(self.rng, self.session_key)
            for _attempt in range(3):  # a socket the server just closed: reopen, send again
                if self.reader.done():
                    await self.reopen()
                try:
                    await self.ws.write_message(payload, binary=binary)
                except tornado.websocket.WebSocketClosedError:
                    await self.reopen()
                    continue
                self.sent += 1
                break
            if number % RESET_EVERY == RESET_EVERY - 1:
                with contextlib.suppress(tornado.websocket.WebSocketClosedError):
                    await self.ws.write_message(self.reset)
        for _attempt in range(5):  # the last hostile frame may have closed the socket
            seen = self.finals_seen
            try:
                await self.ws.write_message(self.final)
                deadline = time.monotonic() + 60
                while self.finals_seen == seen and not self.reader.done():
                    if time.monotonic() > deadline:
                        raise TimeoutError("the server never answered the final frame")
                    await asyncio.sleep(0.01)
                if self.finals_seen > seen:
                    break
            except tornado.websocket.WebSocketClosedError:
                pass
            await self.reopen()
        self.ws.close()


async def bystander(server: LiveHelpProcess, record, user, stop: asyncio.Event) -> dict:
    olga = await connect(server.ws_url("ws/monitor"), server.user_cookie(user))
    await receive(olga, "monitor")
    bob = await connect(server.ws_url(f"ws/user/{record.id}"),
                        server.session_cookie(record, "bob-browser"))
    await receive(bob, "state")
    await bob.write_message(json.dumps({"type": "activate"}))
    while not (await receive(bob, "state"))["active"]:
        pass
    latencies, failures, number = [], 0, 0
    while not stop.is_set():
        number += 1
        client_id = f"bob-{number}"
        begun = time.perf_counter()
        await bob.write_message(json.dumps({"type": "chat", "client_id": client_id,
                                            "text": "still there?"}))
        reply = await receive(bob)
        while reply["type"] not in ("ack", "error"):
            reply = await receive(bob)
        if reply["type"] == "ack":
            latencies.append(time.perf_counter() - begun)
        else:
            failures += 1
        while (await receive(olga, "chat"))["client_id"] != client_id:
            pass
        await asyncio.sleep(BYSTANDER_INTERVAL)
    bob.close()
    olga.close()
    return {"acked": len(latencies), "failures": failures,
            "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99)}


async def sample_rss(pid: int, into: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        into.append(rss_bytes(pid))
        await asyncio.sleep(1.0)


async def livehelp_run(args: argparse.Namespace, directory: Path) -> dict:
    store = open_store("sqlite", directory)
    await store.open()
    records, users = await seed(store, args.attackers + 1, 2)
    await store.close()
    server = LiveHelpProcess(directory, LOAD_LIMITS).start()
    rng = random.Random(args.seed)
    attackers = []
    for index in range(args.attackers):
        if index % 4 == 3:  # a quarter of them on the Monitor socket
            async def opener(user=users[1]):
                ws = await connect(server.ws_url("ws/monitor"), server.user_cookie(user))
                await receive(ws, "monitor")
                return ws
            reset = json.dumps({"type": "set_roles", "roles": ["advocate"]})
            final = (json.dumps({"type": "set_status", "available": False}), "monitor")
        else:
            async def opener(record=records[index + 1], index=index):
                ws = await connect(server.ws_url(f"ws/user/{record.id}"),
                                   server.session_cookie(record, f"mallory-{index}"))
                await receive(ws, "state")
                return ws
            reset = json.dumps({"type": "typing", "typing": False})
            final = (json.dumps({"type": "hello", "last_seq": 10**9}), "state")
        key = f"{records[index + 1].id}|b:mallory-{index}"
        attackers.append(Attacker(opener, reset, final, random.Random(rng.random()), key))
    stop = asyncio.Event()
    rss: list[int] = []
    try:
        sampler = asyncio.create_task(sample_rss(server.pid, rss, stop))
        chat = asyncio.create_task(bystander(server, records[0], users[0], stop))
        await asyncio.sleep(1.0)
        started = time.perf_counter()
        shares = [args.frames // args.attackers] * args.attackers
        await asyncio.gather(*(a.run(n) for a, n in zip(attackers, shares)))
        elapsed = time.perf_counter() - started
        await asyncio.sleep(2.0)  # let the server drain what it was sent
        stop.set()
        chat_figures = await chat
        await sampler
        alive = server.process.poll() is None
    finally:
        server.stop()
    log = server.log_tail(10**9)
    crashes = log.count("Traceback") + log.count("Uncaught exception") + (0 if alive else 1)
    return {"sent": sum(a.sent for a in attackers), "seconds": elapsed,
            "errors": sum(a.errors for a in attackers),
            "closes": sum(a.closes for a in attackers), "crashes": crashes, "alive": alive,
            "chat": chat_figures, "rss": rss}


async def echo_run(args: argparse.Namespace) -> dict:
    process, port = start_echo()
    rng = random.Random(args.seed)
    try:
        sockets = [await connect(f"ws://127.0.0.1:{port}/echo") for _ in range(args.attackers)]
        started = time.perf_counter()
        readers = [asyncio.create_task(read_until_end(ws)) for ws in sockets]

        async def attack(ws, count: int) -> None:
            for _ in range(count):
                payload, binary = hostile(rng, "")
                if isinstance(payload, bytes) and not binary:
                    binary = True  # the bare echo would drop the socket on bad UTF-8
                await ws.write_message(payload, binary=binary)
            await ws.write_message("the end")  # echoed once everything before it was

        await asyncio.gather(*(attack(ws, args.frames // args.attackers) for ws in sockets))
        await asyncio.wait_for(asyncio.gather(*readers), 120)
        elapsed = time.perf_counter() - started
        for ws in sockets:
            ws.close()
        return {"sent": args.frames // args.attackers * args.attackers, "seconds": elapsed}
    finally:
        stop_process(process)


async def read_until_end(ws) -> None:
    while await ws.read_message() not in (None, "the end"):
        pass


def report(live: dict, echo: dict) -> None:
    mib = 1024 * 1024
    rate, echo_rate = live["sent"] / live["seconds"], echo["sent"] / echo["seconds"]
    print(f"livehelp: {live['sent']:,} hostile frames in {live['seconds']:.1f} s = {rate:,.0f}"
          f" frames/s; {live['errors']:,} error replies, {live['closes']:,} closes by the server")
    print(f"bare echo: {echo['sent']:,} of the same frames in {echo['seconds']:.1f} s ="
          f" {echo_rate:,.0f} frames/s; ratio livehelp/echo {ratio(rate, echo_rate):.2f}x")
    print(f"crashes: {live['crashes']} (server alive: {live['alive']}; target 0:"
          f" {verdict(live['crashes'] == 0)})")
    chat = live["chat"]
    print(f"bystander chat: {chat['acked']} messages acked, {chat['failures']} refused; ack p50"
          f" {chat['p50'] * 1000:.1f} ms, p99 {chat['p99'] * 1000:.1f} ms"
          f" (undisturbed: {verdict(chat['failures'] == 0 and chat['acked'] > 0)})")
    rss = live["rss"]
    growth = (rss[-1] - rss[0]) / mib
    print(f"server RSS: start {rss[0] / mib:.1f} MiB, max {max(rss) / mib:.1f} MiB, end"
          f" {rss[-1] / mib:.1f} MiB (growth {growth:+.1f} MiB; flat within {FLAT_MIB} MiB:"
          f" {verdict(growth <= FLAT_MIB)})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--attackers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    raise_fd_limit(1000)
    with tempfile.TemporaryDirectory(prefix="livehelp-fuzz-") as directory:
        live = await livehelp_run(args, Path(directory))
    echo = await echo_run(args)
    report(live, echo)


if __name__ == "__main__":
    asyncio.run(main())
