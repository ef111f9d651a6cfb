"""The queue under load, through the real protocol (issue: routing like a help desk).
Not named queue.py: that would hide the standard library's `queue` from every
script in this folder.

A server process with `--operators` operators (default 20) of capacity
`--capacity` (4) and `--users` interviewees (500) in help mode. The users activate
chat one after another (so the order of the line is known here); those who get an
operator chat for a random while (`--chat-min`..`--chat-max` seconds) and then turn
chat off, which frees a place for the next in line. Printed:

- assignment latency once a place frees: from a user's `deactivate` leaving this
  process to the `state` that tells the next user in line they have an operator
  (the k-th assignment from the line is paired with the k-th place freed), p50 / p99
  / max. Target: p99 < 50 ms on this 2-core machine.
- queue order: the share of assignments from the line that went to the oldest user
  still waiting (target 100 %).
- the estimate's error: each estimate a user was told while in line minus the wait
  that followed it (all of them, and the first each user got); median and p90 of
  the absolute error, and the mean of the actual waits, to compare with.

    .venv/bin/python bench/queue_load.py [--users 500] [--operators 20] [--capacity 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

from common import (
    LOAD_LIMITS,
    LiveHelpProcess,
    connect,
    drain,
    open_store,
    percentile,
    receive,
    seed,
)


class Run:
    def __init__(self, users: int) -> None:
        self.line: list[int] = []  # users waiting, in the order they joined
        self.freed: list[float] = []  # when each place was freed (deactivate sent)
        self.assigned_from_line = 0
        self.in_order = 0
        self.latencies: list[float] = []
        self.errors: list[float] = []  # every estimate told, against the wait after it
        self.first_errors: list[float] = []
        self.waits: list[float] = []
        self.done = asyncio.Event()
        self.all_in_at: float | None = None  # when the last user activated
        self.late: list[float] = []  # latencies of places freed after that
        self.remaining = users

    def served(self, user: int, now: float) -> None:
        """User `user` got an operator after waiting in line."""
        self.in_order += self.line[0] == user
        self.line.remove(user)
        if self.assigned_from_line < len(self.freed):
            freed = self.freed[self.assigned_from_line]
            self.latencies.append((now - freed) * 1000)
            if self.all_in_at is not None and freed > self.all_in_at:
                self.late.append((now - freed) * 1000)
        self.assigned_from_line += 1


async def user(run: Run, ws, index: int, chat: tuple[float, float],
               joined: asyncio.Event) -> None:
    activated = time.perf_counter()
    ws.write_message(json.dumps({"type": "activate"}))
    told: list[tuple[float, float]] = []  # (estimate, when told) while in line
    queued = False
    while True:
        state = await receive(ws, "state", timeout=120)
        now = time.perf_counter()
        if state["active"]:
            joined.set()  # the server has placed this user: the next may activate
        if state["queue"] is not None and not queued:
            queued = True
            run.line.append(index)
        if state["queue"] is not None and state["queue"]["estimate_seconds"] is not None:
            told.append((state["queue"]["estimate_seconds"], now))
        if state["active"] and state["operator_name"] is not None:
            break
    if queued:
        run.served(index, now)
        run.waits.append(now - activated)
        if told:  # the first estimate it was told, against the wait that followed
            run.first_errors.append(told[0][0] - (now - told[0][1]))
        run.errors += [estimate - (now - at) for estimate, at in told]
    await asyncio.sleep(random.uniform(*chat))
    run.freed.append(time.perf_counter())
    ws.write_message(json.dumps({"type": "deactivate"}))
    run.remaining -= 1
    if run.remaining == 0:
        run.done.set()


async def bench(args: argparse.Namespace, directory: Path) -> Run:
    store = open_store("sqlite", directory)
    await store.open()
    records, operators = await seed(store, args.users, args.operators)
    await store.close()
    config = {"live help": {"ping seconds": 30.0}, **LOAD_LIMITS,
              "routing": {"capacity": args.capacity, "max capacity": args.capacity}}
    server = LiveHelpProcess(directory, config).start()
    tasks = []
    try:
        for operator in operators:
            ws = await connect(server.ws_url("ws/monitor"), server.user_cookie(operator))
            await receive(ws, "monitor")
            tasks.append(asyncio.create_task(drain(ws)))
        sockets = []
        for index, record in enumerate(records):
            ws = await connect(server.ws_url(f"ws/user/{record.id}"),
                               server.session_cookie(record, f"bench-browser-{index}"))
            await receive(ws, "state")
            sockets.append(ws)
        run = Run(args.users)
        started = time.perf_counter()
        for index, ws in enumerate(sockets):
            joined = asyncio.Event()
            tasks.append(asyncio.create_task(
                user(run, ws, index, (args.chat_min, args.chat_max), joined)))
            await joined.wait()  # one activate at a time: the line's order is known here
        run.all_in_at = time.perf_counter()
        run.activation_seconds = run.all_in_at - started
        await asyncio.wait_for(run.done.wait(), timeout=600)
        run.seconds = time.perf_counter() - started
        for ws in sockets:
            ws.close()
        return run
    finally:
        for task in tasks:
            task.cancel()
        server.stop()


def report(args: argparse.Namespace, run: Run) -> None:
    latencies, errors = run.latencies, [abs(e) for e in run.errors]
    print(f"{args.users} users, {args.operators} operators of capacity {args.capacity} "
          f"({args.operators * args.capacity} places), chats of {args.chat_min:g}–"
          f"{args.chat_max:g} s; all served in {run.seconds:.1f} s")
    print(f"  assignments from the line: {run.assigned_from_line}; latency once a place "
          f"frees p50 {percentile(latencies, 0.50):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms,"
          f" max {max(latencies):.1f} ms  (target p99 < 50 ms)")
    late = run.late
    print(f"  of those, places freed after the last user activated ({run.activation_seconds:.1f} s"
          f" of activations): {len(late)}; p50 {percentile(late, 0.50):.1f} ms, "
          f"p99 {percentile(late, 0.99):.1f} ms")
    print(f"  in queue order: {run.in_order} of {run.assigned_from_line} "
          f"({100 * run.in_order / run.assigned_from_line:.1f} %)  (target 100 %)")
    first = [abs(e) for e in run.first_errors]
    if errors:
        print(f"  estimate error |estimate - the wait that followed|: over all {len(errors)} "
              f"estimates told, median {percentile(errors, 0.50):.1f} s, p90 "
              f"{percentile(errors, 0.90):.1f} s; the first one each of {len(first)} users was "
              f"told, median {percentile(first, 0.50):.1f} s, p90 {percentile(first, 0.90):.1f} s;"
              f" actual waits averaged {sum(run.waits) / len(run.waits):.1f} s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--operators", type=int, default=20)
    parser.add_argument("--capacity", type=int, default=4)
    parser.add_argument("--chat-min", type=float, default=0.5)
    parser.add_argument("--chat-max", type=float, default=3.0)
    args = parser.parse_args()
    random.seed(1)
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as directory:
        report(args, await bench(args, Path(directory)))


if __name__ == "__main__":
    asyncio.run(main())
