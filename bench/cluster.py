"""Cluster mode measured: two livehelp processes a and b (MongoDB through nx-27017,
Redis between them; bench/cluster_setup.py), loaded over 127.0.0.1 without nginx.

1. Delivery latency, same vs cross process, in one run. `--users` interviewees on a,
   each in a help chat; in phase "same" the operator's Monitor is on a, in phase
   "cross" another operator's Monitor is on b (the only operator online, so every
   chat is theirs: checked). Each user sends `--messages`, the next once the previous
   is acknowledged (as bench/chat.py), after `--warmup` uncounted ones; the time from
   the user's send to that message's `chat` event on the Monitor (a token in the text)
   is taken with time.perf_counter in this process. Then the operator answers each
   user `--replies` times (operator send -> the user's `chat` event). Printed: p50/p99
   per phase and direction, cross p99 / same p99, CPU per message of each process,
   and the target cross p99 <= 2 x same p99 + 2 ms.
2. Connections. Fresh processes hold `--sockets` interviewee sockets in all, half on
   each (held by two worker processes of this script, one per server: the open-file
   hard limit of one process is too low for both halves), with one operator's Monitor
   on each. Printed per process: RSS per socket, and the event-loop lag p50/p99 from
   its /metrics while the sockets are held idle and while `--chat-users` chat lightly
   (target p99 < 20 ms); and, without a target, the worst lag while they connect and
   while every one of them closes at once.

After each part: the lines each process logged at WARNING or above, and the clients
Redis closed (a subscriber too far behind), so that a problem is not hidden by figures.

    python bench/cluster.py                                 # 20 x 200; 20,000 sockets
    python bench/cluster.py --users 5 --messages 50 --sockets 2000
    python bench/cluster.py --parts latency
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file: bench/ is a folder of the project
    sys.path.insert(0, str(ROOT))

from bench.cluster_setup import (
    HOLD_TIMEOUT_SECONDS,
    SPARE_FDS,
    Holder,
    Peer,
    Rig,
    chat_users,
    hold_sockets,
    start_holders,
    start_rig,
    talk,
    until_operators_offline,
)
from bench.common import (
    CpuClock,
    LiveHelpProcess,
    connect,
    drain,
    lag_figures,
    percentile,
    raise_fd_limit,
    ratio,
    receive,
    rss_bytes,
    scrape_metrics,
    verdict,
)
from handlers.metrics import LAG_WINDOW_SECONDS
from state.store.base import SessionRecord, User

SETTLE_SECONDS = 1.0
MS = 1000
LOG_LINES_SHOWN = 10
# While the sockets open or close, each process's lag over the last 10 s is read this often.
RAMP_SCRAPE_SECONDS = 5.0


@dataclass
class Phase:
    name: str
    to_operator: list[float]
    user_acks: list[float]
    to_user: list[float]
    operator_acks: list[float]
    missing: int
    cpu: dict[str, float]  # process -> CPU seconds per user message
    relayed: dict[str, float]  # the relay's counters, grown while the users sent


RELAY_COUNTERS = ("events_sent", "events_received", "events_dropped")


async def relay_counters(rig: Rig) -> dict[str, float]:
    """{"a events_sent": n, ...}: what each process's relay counted so far."""
    found = {}
    for name, process in zip("ab", rig.processes, strict=True):
        metrics = await scrape_metrics(process)
        for counter in RELAY_COUNTERS:
            found[f"{name} {counter}"] = metrics[f"livehelp_cluster_{counter}_total"]
    return found


def capacity(users: int) -> dict:
    """Routing that lets one operator hold every chat of the bench."""
    return {"routing": {"capacity": max(users, 1), "max capacity": max(users, 10)}}


async def phase(name: str, rig: Rig, monitor_at: LiveHelpProcess, operator: User,
                records: list[SessionRecord], args: argparse.Namespace) -> Phase:
    """One phase of part 1: users on a, `operator`'s Monitor on `monitor_at`."""
    monitor = Peer(await connect(monitor_at.ws_url("ws/monitor"),
                                 monitor_at.user_cookie(operator)))
    users = await chat_users(rig.a, records, name, operator)
    try:
        await monitor.until(lambda: all(monitor.entries.get(r.id, {}).get("operator_id")
                                        == operator.id for r in records))
        await asyncio.gather(*(talk(user, f"{name}-warm-u{i}", args.warmup)
                               for i, user in enumerate(users)))
        relayed = await relay_counters(rig)
        clock = CpuClock(rig.a.pid, rig.b.pid, rig.redis.process.pid, rig.nx.pid)
        sends = await asyncio.gather(*(talk(user, f"{name}-u{i}", args.messages)
                                       for i, user in enumerate(users)))
        used, own = clock.used()
        relayed = {key: value - relayed[key] for key, value in (await relay_counters(rig)).items()}
        sent = [row for rows in sends for row in rows]
        # The operator answers as a person does: one message at a time, user after user
        # (sent all at once, they would wait in line behind each other at the server).
        replies: list[list] = [[] for _ in records]
        for round_ in range(args.replies):
            for i, record in enumerate(records):
                replies[i] += await talk(monitor, f"{name}-o{i}-r{round_}", 1,
                                         session=monitor.entries[record.id]["key"])
        missing = await arrived_within(monitor, sent)
        for user, rows in zip(users, replies, strict=True):
            missing += await arrived_within(user, rows)
    finally:
        for peer in [monitor, *users]:
            peer.close()
    await until_operators_offline(rig)
    count = max(len(sent), 1)
    return Phase(
        name,
        to_operator=[monitor.arrived[token] - begun for token, begun, _ in sent
                     if token in monitor.arrived],
        user_acks=[acked - begun for _, begun, acked in sent],
        to_user=[user.arrived[token] - begun for user, rows in zip(users, replies, strict=True)
                 for token, begun, _ in rows if token in user.arrived],
        operator_acks=[acked - begun for rows in replies for _, begun, acked in rows],
        missing=missing, relayed=relayed,
        cpu={"a": used[0] / count, "b": used[1] / count, "redis": used[2] / count,
             "nx-27017": used[3] / count, "load generator": own / count})


async def arrived_within(peer: Peer, sent: list[tuple[str, float, float]]) -> int:
    """How many of the messages `sent` never reached `peer` (waited for, up to a limit)."""
    try:
        await peer.until(lambda: all(token in peer.arrived for token, _, _ in sent))
    except TimeoutError:
        pass
    return sum(1 for token, _, _ in sent if token not in peer.arrived)


async def latency_part(args: argparse.Namespace,
                       directory: Path) -> tuple[list[Phase], dict[str, list[str]]]:
    rig, records, operators = await start_rig(directory, 2 * args.users, 2,
                                              capacity(args.users))
    try:
        same = await phase("same", rig, rig.a, operators[0], records[:args.users], args)
        cross = await phase("cross", rig, rig.b, operators[1], records[args.users:], args)
    finally:
        rig.stop()
    return [same, cross], logged_problems(rig)


def logged_problems(rig: Rig) -> dict[str, list[str]]:
    """Each process's log lines at WARNING or above, and tracebacks; the clients Redis
    closed (its log names each, with the reason)."""
    found = {}
    for name, process in zip("ab", rig.processes, strict=True):
        path = process.data_dir / "server.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        found[name] = [line for line in text.splitlines()
                       if " WARNING " in line or " ERROR " in line or " CRITICAL " in line
                       or line.startswith("Traceback")]
    text = rig.redis.log.read_text(errors="replace") if rig.redis.log.exists() else ""
    found["redis"] = [line for line in text.splitlines() if "Client id=" in line]
    return found


def report_logs(logs: dict[str, list[str]]) -> None:
    """What the processes logged above INFO: a problem the figures might hide."""
    for name, lines in logs.items():
        what = "clients closed" if name == "redis" else "warnings, errors or tracebacks"
        print(f"[{name}] log: {len(lines)} lines of {what}"
              + "".join(f"\n    {line}" for line in lines[:LOG_LINES_SHOWN]))


def figures(values: list[float]) -> str:
    return (f"p50 {percentile(values, 0.5) * MS:.2f} ms, p99 {percentile(values, 0.99) * MS:.2f}"
            f" ms, max {max(values, default=float('nan')) * MS:.2f} ms ({len(values):,})")


def report_latency(args: argparse.Namespace, phases: list[Phase]) -> None:
    print(f"== 1. delivery latency: {args.users} users on a x {args.messages} messages"
          f" (+{args.warmup} warm-up each), then {args.replies} replies to each ==")
    for run in phases:
        where = "a" if run.name == "same" else "b"
        print(f"[{run.name}] user (a) -> operator's Monitor ({where}): {figures(run.to_operator)}")
        print(f"[{run.name}] user's ack: {figures(run.user_acks)}")
        print(f"[{run.name}] operator ({where}) -> user (a): {figures(run.to_user)};"
              f" operator's ack {figures(run.operator_acks)}")
        print(f"[{run.name}] CPU per user message: " + ", ".join(
            f"{process} {seconds * 1e6:.0f} us" for process, seconds in run.cpu.items())
            + f"; missing deliveries: {run.missing}")
        print(f"[{run.name}] relayed over Redis meanwhile: " + ", ".join(
            f"{key} {value:,.0f}" for key, value in run.relayed.items()))
    same, cross = phases
    for label, pick in (("user -> operator", lambda p: p.to_operator),
                        ("operator -> user", lambda p: p.to_user)):
        same_p99, cross_p99 = percentile(pick(same), 0.99), percentile(pick(cross), 0.99)
        bound = 2 * same_p99 + 0.002
        print(f"{label}: cross p99 / same p99 = {ratio(cross_p99, same_p99):.2f}x; target"
              f" cross p99 <= 2 x same p99 + 2 ms = {bound * MS:.2f} ms: cross p99"
              f" {cross_p99 * MS:.2f} ms, {verdict(cross_p99 <= bound)}"
              + ("" if label.startswith("user") else " (not the issue's target; shown too)"))


def clock_time() -> str:
    """The wall clock, as the processes' logs write it (to match their lines to a stage)."""
    return time.strftime("%H:%M:%S")


async def worst_lag_while(rig: Rig, running: asyncio.Future) -> list[tuple]:
    """Each process's worst 10 s lag window (p50, p99, max) while `running` runs: read
    every RAMP_SCRAPE_SECONDS, so the windows overlap and no stall goes unseen."""
    worst = [(0.0, 0.0, 0.0) for _ in rig.processes]
    while not running.done():
        await asyncio.wait([running], timeout=RAMP_SCRAPE_SECONDS)
        worst = [tuple(map(max, seen, lag_figures(await scrape_metrics(process))))
                 for seen, process in zip(worst, rig.processes, strict=True)]
    running.result()  # its failure, if it failed
    return worst


async def until_offline(rig: Rig) -> None:
    """Wait until no interviewee socket is open at either process."""
    async with asyncio.timeout(HOLD_TIMEOUT_SECONDS):
        for process in rig.processes:
            while (await scrape_metrics(process)).get("livehelp_clients_online") != 0:
                await asyncio.sleep(RAMP_SCRAPE_SECONDS / 10)


async def connections_part(args: argparse.Namespace,
                           directory: Path) -> tuple[dict, dict[str, list[str]]]:
    rig, records, operators = await start_rig(
        directory, args.sockets + args.chat_users, 2,
        {"live help": {"ping seconds": 30.0}, **capacity(args.chat_users)})
    held, chatting = records[:args.sockets], records[args.sockets:]
    halves = {"a": held[:len(held) // 2], "b": held[len(held) // 2:]}
    monitors, drains = [], []
    holders: dict[str, Holder] = {}
    try:
        await asyncio.sleep(SETTLE_SECONDS)
        before = {name: rss_bytes(p.pid) for name, p in zip("ab", rig.processes, strict=True)}
        for process, operator in zip(rig.processes, operators, strict=True):
            ws = await connect(process.ws_url("ws/monitor"), process.user_cookie(operator))
            await receive(ws, "monitor")
            monitors.append(ws)
            drains.append(asyncio.create_task(drain(ws)))
        stages = {"connecting": clock_time()}
        holders = await start_holders(rig, halves, directory, args.concurrency)
        ready = asyncio.gather(*(holder.ready() for holder in holders.values()))
        ramp = await worst_lag_while(rig, ready)
        opened = dict(zip(holders, ready.result(), strict=True))
        stages["held idle"] = clock_time()
        await asyncio.sleep(args.hold)
        idle_metrics = [await scrape_metrics(p) for p in rig.processes]
        after = {name: rss_bytes(p.pid) for name, p in zip("ab", rig.processes, strict=True)}
        stages["light chat"] = clock_time()
        users = []
        for name, process in zip("ab", rig.processes, strict=True):
            users += await chat_users(process, chatting[name == "b"::2], f"light-{name}")
        acks = await asyncio.gather(*(
            talk(user, f"light-u{i}", None, pause=args.chat_pause, seconds=args.hold)
            for i, user in enumerate(users)))
        chat_metrics = [await scrape_metrics(p) for p in rig.processes]
        for user in users:
            user.close()
        # Every held socket closes at once (as when a network or a proxy drops them all).
        stages["closing"] = clock_time()
        closing = await worst_lag_while(rig, asyncio.gather(
            *(holder.stop() for holder in holders.values()), until_offline(rig)))
        stages["closed"] = clock_time()
        found = {"opened": opened, "before": before, "after": after, "ramp": ramp,
                 "idle": [lag_figures(m) for m in idle_metrics],
                 "online": [m.get("livehelp_clients_online", float("nan"))
                            for m in idle_metrics],
                 "chat": [lag_figures(m) for m in chat_metrics], "closing": closing,
                 "stages": stages,
                 "acks": [acked - begun for rows in acks for _, begun, acked in rows]}
    finally:
        for task in drains:
            task.cancel()
        for ws in monitors:
            ws.close()
        for holder in holders.values():
            await holder.stop()
        rig.stop()
    return found, logged_problems(rig)


def report_connections(args: argparse.Namespace, run: dict) -> None:
    mib = 1024 * 1024
    print(f"== 2. connections: {args.sockets:,} interviewee sockets asked for, half on each"
          f" process, one operator's Monitor on each; held {args.hold:g} s idle, then"
          f" {args.chat_users} users chat for {args.hold:g} s ==")
    total = sum(opened["held"] for opened in run["opened"].values())
    for index, name in enumerate("ab"):
        opened = run["opened"][name]
        grown = run["after"][name] - run["before"][name]
        print(f"[{name}] held {opened['held']:,} of {opened['asked']:,} sockets"
              f" ({run['online'][index]:.0f} clients online at the server), opened in"
              f" {opened['seconds']:.1f} s; RSS {run['before'][name] / mib:.1f} ->"
              f" {run['after'][name] / mib:.1f} MiB ="
              f" {grown / max(opened['held'], 1) / 1024:.1f} KiB per socket"
              f" (the other process's entries mirrored here included)")
        if opened["failed"]:
            print(f"[{name}] {opened['failed']:,} sockets failed: {opened['errors']}")
        for label, lag, shown in (
                ("while connecting (worst 10 s window)", run["ramp"][index], False),
                ("held idle (last 10 s)", run["idle"][index], True),
                ("held, light chat (last 10 s)", run["chat"][index], True),
                ("while all close at once (worst 10 s window)", run["closing"][index], False)):
            p50, p99, worst = lag
            target = f" (target p99 < 20 ms: {verdict(p99 < 20)})" if shown else ""
            print(f"[{name}] loop lag {label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms,"
                  f" max {worst:.1f} ms{target}")
    print(f"light chat: {len(run['acks']):,} messages acked, ack {figures(run['acks'])}")
    print("stages (wall clock, as in the logs): " + ", ".join(
        f"{stage} {at}" for stage, at in run["stages"].items()))
    if total < args.sockets:
        print(f"NOT HELD: {total:,} of the {args.sockets:,} sockets asked for were held")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="latency,connections")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200, help="per user")
    parser.add_argument("--warmup", type=int, default=10, help="uncounted messages per user")
    parser.add_argument("--replies", type=int, default=50, help="operator messages per user")
    parser.add_argument("--sockets", type=int, default=20_000, help="in all, half on each")
    parser.add_argument("--hold", type=float, default=12.0,
                        help="seconds of each stage of part 2 (> the 10 s lag window)")
    parser.add_argument("--chat-users", type=int, default=10)
    parser.add_argument("--chat-pause", type=float, default=0.1,
                        help="seconds each light-chat user waits after an ack")
    parser.add_argument("--concurrency", type=int, default=50,
                        help="handshakes in flight per worker")
    args = parser.parse_args()
    parts = {part.strip() for part in args.parts.split(",")}
    if "connections" in parts and args.hold <= LAG_WINDOW_SECONDS:
        parser.error(f"--hold must be more than {LAG_WINDOW_SECONDS:g} s, the lag window:"
                     " else the figures of one stage include the one before")
    # The livehelp processes inherit this limit: each holds half the sockets.
    needed = args.sockets // 2 + args.chat_users + 2 * args.users + SPARE_FDS * 5
    if (limit := raise_fd_limit(needed)) < needed:
        parser.error(f"open-file limit {limit} is too low for {args.sockets:,} sockets")
    with tempfile.TemporaryDirectory(prefix="livehelp-cluster-") as directory:
        if "latency" in parts:
            phases, logs = await latency_part(args, Path(directory) / "latency")
            report_latency(args, phases)
            report_logs(logs)
        if "connections" in parts:
            run, logs = await connections_part(args, Path(directory) / "sockets")
            report_connections(args, run)
            report_logs(logs)


if __name__ == "__main__":
    if sys.argv[1:2] == ["hold"]:
        asyncio.run(hold_sockets(Path(sys.argv[2])))
    else:
        asyncio.run(main())
