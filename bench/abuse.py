"""Everything a visitor may try at once, while a real user and operator chat beside it.

The server runs with `ulimit -n 1024` (set with resource.setrlimit before it starts)
and the default limits. Within about 30 s, from another process on 127.0.0.1
(bench/abuse_attacks.py):
20 slow readers (Monitor sockets that never read, with a 4 KB receive buffer),
1,000 half-open connections (half a request header each, held), 8 chat floods
(4,000-character messages as fast as the server answers), 4 frame floods (junk
frames, reconnecting when closed) and three 90 MB `POST /login` bodies (streamed
until the server answers). Meanwhile Bob chats with Olga (one message a second
each way) and a fresh `GET /` is sent every half second.

Printed, with targets: server RSS before / peak / after (peak under 200 MiB over
the idle figure), the bystander's acks (all, none lost) and ack p99, the fresh
`GET /` latency (answered within 1 s once the header timeout has passed), the 413s,
what happened to the slow readers and half-open connections, open descriptors, and
the log lines written during the attack. Bounded in count and time; not a test.

    python bench/abuse.py
    python bench/abuse.py --half-open 500 --chat-floods 4
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from abuse_attacks import BODY_BYTES, HEADER_SECONDS, MIB, SERVER_FILES
from common import (
    LiveHelpProcess,
    connect,
    open_store,
    percentile,
    receive,
    rss_bytes,
    seed,
    verdict,
)

PEAK_TARGET_MIB = 200
GET_TARGET_SECONDS = 1.0
PROBE_EVERY = 0.5
BYSTANDER_EVERY = 1.0  # one message a second each way: well under the chat rate limit
ATTACKER = Path(__file__).resolve().with_name("abuse_attacks.py")


class LimitedProcess(LiveHelpProcess):
    """The server process with `ulimit -n SERVER_FILES`."""

    def start(self) -> LimitedProcess:
        from common import ROOT, wait_for_port

        config_file = self.data_dir / "bench-config.yaml"
        config_file.write_text(json.dumps(self.config))  # JSON is YAML
        log = (self.data_dir / "server.log").open("ab")

        def limit_files() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (SERVER_FILES, SERVER_FILES))

        # preexec_fn is unsafe with threads; this process starts none before this.
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py"), "--config", str(config_file),
             "--port", str(self.port), "--data-dir", str(self.data_dir)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            preexec_fn=limit_files)  # noqa: PLW1509
        log.close()
        wait_for_port(self.port, self.process)
        return self


# -- the bystander, the probes, the figures ------------------------------------------------

async def bystander(server: LiveHelpProcess, record, olga_cookie: str, stop: asyncio.Event
                    ) -> dict:
    """Bob and Olga, one message a second each way; every ack's latency."""
    olga = await connect(server.ws_url("ws/monitor"), olga_cookie)
    await receive(olga, "monitor")
    bob = await connect(server.ws_url(f"ws/user/{record.id}"),
                        server.session_cookie(record, "bob-browser"))
    await receive(bob, "state")
    await bob.write_message(json.dumps({"type": "activate"}))
    while not (await receive(bob, "state"))["active"]:
        pass
    latencies: list[float] = []
    sent = refused = 0
    key = f"{record.id}|b:bob-browser"
    while not stop.is_set():
        for who, ws, message in (
                ("bob", bob, {"type": "chat", "client_id": f"bob-{sent}", "text": "still there?"}),
                ("olga", olga, {"type": "chat", "client_id": f"olga-{sent}", "session": key,
                                "text": "yes, I am here"})):
            begun = time.perf_counter()
            await ws.write_message(json.dumps(message))
            while True:
                reply = await receive(ws, None, 60.0)
                if reply["type"] in ("ack", "error") and (
                        reply.get("client_id") or reply.get("ref")) == message["client_id"]:
                    break
            if reply["type"] == "ack":
                latencies.append(time.perf_counter() - begun)
            else:
                refused += 1
                print(f"  bystander {who} refused: {reply}", flush=True)
        sent += 1
        await asyncio.sleep(BYSTANDER_EVERY)
    bob.close()
    olga.close()
    return {"sent": 2 * sent, "acked": len(latencies), "refused": refused,
            "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
            "max": max(latencies, default=float("nan"))}


async def probe(port: int) -> tuple[float, float, str]:
    """A fresh `GET /`: (sent at, answered at, status)."""
    sent = time.time()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), 60.0)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n"), 60.0)
        writer.close()
        status = head.split()[1].decode()
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
        status = type(error).__name__
    return sent, time.time(), status


async def sample(pid: int, rss: list[int], files: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        rss.append(rss_bytes(pid))
        files.append(len(os.listdir(f"/proc/{pid}/fd")))
        await asyncio.sleep(0.1)


def log_lines(server: LiveHelpProcess) -> list[str]:
    return server.log_tail(10**9).splitlines()


async def run(args: argparse.Namespace, directory: Path) -> None:
    from state.accounts import sign_in

    floods = args.chat_floods + args.frame_floods
    store = open_store("sqlite", directory)
    await store.open()
    records, users = await seed(store, 1 + floods, 1 + args.slow_readers)
    sign_ins = [await sign_in.create(store, user.id) for user in users]
    await store.close()
    server = LimitedProcess(directory).start()
    plan = {"data_dir": str(directory), "port": server.port, "half_open": args.half_open,
            "slow_sign_ins": sign_ins[1:],
            "chat_floods": [{"id": r.id, "interview": r.interview}
                            for r in records[1:1 + args.chat_floods]],
            "frame_floods": [{"id": r.id, "interview": r.interview}
                             for r in records[1 + args.chat_floods:]]}
    (directory / "plan.json").write_text(json.dumps(plan))
    stop, sampling = asyncio.Event(), asyncio.Event()
    rss: list[int] = []
    files: list[int] = []
    try:
        chat = asyncio.ensure_future(bystander(server, records[0],
                                               server.signed("lh_user", sign_ins[0]), stop))
        await asyncio.sleep(3.0)  # the chat is under way
        rss_idle = rss_bytes(server.pid)
        lines_before = len(log_lines(server))
        sampler = asyncio.ensure_future(sample(server.pid, rss, files, sampling))
        attacker = await asyncio.create_subprocess_exec(
            sys.executable, str(ATTACKER), str(directory / "plan.json"),
            stdout=asyncio.subprocess.PIPE)
        probes = []
        while attacker.returncode is None:
            probes.append(asyncio.ensure_future(probe(server.port)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(attacker.wait(), PROBE_EVERY)
        output = (await attacker.stdout.read()).decode()
        if attacker.returncode:
            raise RuntimeError(f"the attacker failed ({attacker.returncode}); see above")
        figures = json.loads(output)
        probes = await asyncio.gather(*probes)
        attack_lines = log_lines(server)[lines_before:]
        await asyncio.sleep(3.0)  # what the attack left behind is freed
        sampling.set()
        await sampler
        rss_after = rss_bytes(server.pid)
        stop.set()
        chat_figures = await chat
    finally:
        exit_code = server.stop()
    report(args, figures, chat_figures, probes, rss_idle, rss, rss_after, files, attack_lines,
           exit_code)


def report(args, figures, chat, probes, rss_idle, rss, rss_after, files, lines, exit_code):
    peak = max(rss)
    print(f"server RSS: before {rss_idle / MIB:.0f} MiB, peak {peak / MIB:.0f} MiB, after "
          f"{rss_after / MIB:.0f} MiB; peak - before {(peak - rss_idle) / MIB:.0f} MiB "
          f"(target < {PEAK_TARGET_MIB}: {verdict(peak - rss_idle < PEAK_TARGET_MIB * MIB)})")
    print(f"bystander chat: {chat['acked']} of {chat['sent']} acknowledged, {chat['refused']} "
          f"refused (target: all: {verdict(chat['acked'] == chat['sent'])}); ack p50 "
          f"{chat['p50'] * 1000:.0f} ms, p99 {chat['p99'] * 1000:.0f} ms, max "
          f"{chat['max'] * 1000:.0f} ms")
    timeout_passed = figures["half_open_at"] + HEADER_SECONDS
    late = [answered - max(sent, timeout_passed) for sent, answered, _ in probes]
    statuses = sorted({status for _, _, status in probes})
    print(f"fresh GET / every {PROBE_EVERY:g} s: {len(probes)} sent, answers {statuses}; "
          f"longest wait {max(a - s for s, a, _ in probes):.1f} s; longest wait beyond the "
          f"header timeout {max(late):.2f} s (target <= {GET_TARGET_SECONDS:g}: "
          f"{verdict(max(late) <= GET_TARGET_SECONDS)})")
    for sent, answered, status in probes[::4]:
        print(f"  GET / sent at {sent - figures['half_open_at']:+5.1f} s: {status} after "
              f"{answered - sent:.2f} s")
    bodies = ", ".join(f"{b['status']} after {b['sent_mib']:.1f} MiB sent, {b['seconds']:.2f} s"
                       for b in figures["bodies"])
    print(f"three {BODY_BYTES // MIB} MB POST /login: {bodies}")
    readers = {kind: figures["slow_readers"].count(kind) for kind in set(figures["slow_readers"])}
    behind = sum("bytes behind" in line for line in lines)  # handlers/socket_base.py logs it
    print(f"{args.slow_readers} slow readers: {readers}; {behind} closed for falling too far "
          "behind (1013, from the server's log; a reader that never reads also misses its "
          "pings)")
    print(f"{args.half_open} half-open connections: {figures['half_open_connected']} connected, "
          f"{figures['half_open_closed']} closed by the server (the last "
          f"{figures['half_open_last_closed']:.1f} s after they were opened); server "
          f"descriptors peak {max(files)} of {SERVER_FILES}")
    chats: dict[str, int] = {}
    for counts in figures["chat_floods"]:
        for kind, count in counts.items():
            chats[kind] = chats.get(kind, 0) + count
    frames = sum(f["frames"] for f in figures["frame_floods"])
    print(f"chat floods ({args.chat_floods}): {chats}; frame floods ({args.frame_floods}): "
          f"{frames} junk frames, {sum(f['closes'] for f in figures['frame_floods'])} closes")
    access = sum("tornado.access" in line for line in lines)
    accept_loop = [line for line in lines if "http_limits: Too many open files" in line]
    errors = [line for line in lines if " ERROR " in line]
    print(f"log during the attack ({figures['ended'] - figures['began']:.0f} s): {len(lines)} "
          f"lines: {access} access lines (one per request), {len(accept_loop)} from the accept "
          f"loop, {len(errors)} errors (with {sum(line.startswith('Traceback') for line in lines)}"
          " tracebacks)")
    for line in accept_loop[:2] + sorted({line.split(" ", 2)[2] for line in errors})[:3]:
        print(f"  {line[:160]}")
    print(f"server exit code after SIGTERM: {exit_code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--half-open", type=int, default=1000)
    parser.add_argument("--slow-readers", type=int, default=20)
    parser.add_argument("--chat-floods", type=int, default=8)
    parser.add_argument("--frame-floods", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="livehelp-abuse-") as directory:
        asyncio.run(run(args, Path(directory)))


if __name__ == "__main__":
    main()
