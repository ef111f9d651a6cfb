"""A cluster of one's own for the benchmarks (bench/cluster.py) and the tests: a real
`redis-server` (Debian's package, which scripts/test.sh installs) on a free loopback
port in a temp directory with nothing saved to disk, nx-27017 (MongoDB wire
protocol), and two `server.py` processes a and b in cluster mode with one cookie
secret, on free ports. No nginx: a client connects to the process it wants, and an
interviewee's socket makes that process its session's home. Then the clients: worker
processes that hold many idle interviewee sockets (`Holder`), and `Peer`, a socket read
by one task that times each chat message's arrival by a token in its text.

`RedisServer.stop()` and `start()` let a test take Redis away and bring it back on the
same port (tests/fixtures_redis.py)."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tornado.httpclient
import tornado.websocket

from bench.common import (
    LOAD_LIMITS,
    ROOT,
    STOP_TIMEOUT_SECONDS,
    LiveHelpProcess,
    connect,
    drain,
    free_port,
    open_store,
    raise_fd_limit,
    receive,
    scrape_metrics,
    seed,
    start_nx,
    stop_process,
    store_config,
    wait_for_port,
)
from state.store.base import SessionRecord, User

START_TIMEOUT_SECONDS = 10.0
# Both processes know each other after a heartbeat or two (1 s each by default).
CLUSTER_TIMEOUT_SECONDS = 30.0
# Sessions written to the store at once while seeding: nx-27017 answers one at a
# time, and a few in flight keep it busy without a long queue.
SEED_BATCH = 20
DATABASE = "livehelp_bench_cluster"
# Descriptors a socket-holding worker needs besides its sockets.
SPARE_FDS = 100
# 10,000 handshakes on a busy 2-core machine take a minute or two; allow for more.
HOLD_TIMEOUT_SECONDS = 900.0


class RedisServer:
    def __init__(self, directory: Path) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed: run scripts/test.sh, which"
                               " installs it (Debian package redis-server)")
        self.executable, self.directory, self.port = executable, directory, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        """Its log: says, for one, when it closed a client (a subscriber too far behind)."""
        return self.directory / "redis.log"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.directory),
             "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.process, START_TIMEOUT_SECONDS)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@dataclass
class Rig:
    """Redis, nx-27017 and the two livehelp processes, started by `start_rig`."""

    redis: RedisServer
    nx: subprocess.Popen
    a: LiveHelpProcess
    b: LiveHelpProcess

    @property
    def processes(self) -> tuple[LiveHelpProcess, LiveHelpProcess]:
        return self.a, self.b

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        stop_process(self.nx)
        self.redis.stop()


async def seed_cluster(mongodb_uri: str, sessions: int,
                       operators: int) -> tuple[list[SessionRecord], list[User]]:
    """Help-mode sessions and signed-in advocates, written before the processes start."""
    store = open_store("mongodb", Path(), mongodb_uri, DATABASE)
    await store.open()
    try:
        records: list[SessionRecord] = []
        for start in range(0, sessions, SEED_BATCH):
            batch = min(SEED_BATCH, sessions - start)
            for made, _ in await asyncio.gather(*(seed(store, 1, 0) for _ in range(batch))):
                records.extend(made)
        _, users = await seed(store, 0, operators)
        return records, users
    finally:
        await store.close()


async def start_rig(directory: Path, sessions: int, operators: int,
                    extra: dict[str, Any]) -> tuple[Rig, list[SessionRecord], list[User]]:
    """Everything started, seeded and the two processes knowing each other."""
    directory.mkdir(parents=True, exist_ok=True)
    redis = RedisServer(directory)
    redis.start()
    nx: subprocess.Popen | None = None
    started: list[LiveHelpProcess] = []
    try:
        nx, uri = start_nx(directory / "nx")
        records, users = await seed_cluster(uri, sessions, operators)
        secret = secrets.token_urlsafe(48)
        for name in ("a", "b"):
            data_dir = directory / name
            data_dir.mkdir()
            (data_dir / "cookie_secret").write_text(secret)  # one secret: cookies work on both
            config = {**store_config("mongodb", data_dir, uri, DATABASE), **LOAD_LIMITS,
                      "cluster": {"redis url": redis.url, "process name": name}, **extra}
            started.append(LiveHelpProcess(data_dir, config).start())
        rig = Rig(redis, nx, *started)
        await until_both_alive(rig)
    except BaseException:  # nothing started is left running
        for process in started:
            process.stop()
        if nx is not None:
            stop_process(nx)
        redis.stop()
        raise
    return rig, records, users


async def until_both_alive(rig: Rig) -> None:
    """Wait until each process counts 2 processes alive (its first scrape also starts
    its event-loop lag sampler)."""
    deadline = time.monotonic() + CLUSTER_TIMEOUT_SECONDS
    for process in rig.processes:
        while (await scrape_metrics(process)).get("livehelp_cluster_processes") != 2:
            if time.monotonic() > deadline:
                raise RuntimeError(f"process at {process.port} does not see both processes:"
                                   f"\n{process.log_tail()}")
            await asyncio.sleep(0.1)


async def until_operators_offline(rig: Rig) -> None:
    """Wait until neither process has an operator's Monitor open."""
    deadline = time.monotonic() + CLUSTER_TIMEOUT_SECONDS
    for process in rig.processes:
        while (await scrape_metrics(process)).get("livehelp_operators_online") != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"operators still online at {process.port}")
            await asyncio.sleep(0.05)


class Holder:
    """A worker process (`bench/cluster.py hold JOB`) holding interviewee sockets on one
    livehelp process until its standard input closes."""

    def __init__(self, worker: asyncio.subprocess.Process, asked: int) -> None:
        self.worker, self.asked = worker, asked

    async def ready(self) -> dict:
        """{asked, held, failed, seconds, errors} once every socket is open or refused."""
        assert self.worker.stdout is not None
        line = await asyncio.wait_for(self.worker.stdout.readline(), HOLD_TIMEOUT_SECONDS)
        if not line:
            raise RuntimeError(f"socket worker exited with {await self.worker.wait()}")
        return {"asked": self.asked, **json.loads(line)}

    async def stop(self) -> None:
        if self.worker.returncode is None:
            assert self.worker.stdin is not None
            self.worker.stdin.close()
            try:
                await asyncio.wait_for(self.worker.wait(), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                self.worker.kill()
                await self.worker.wait()


async def start_holders(rig: Rig, shares: dict[str, list[SessionRecord]], directory: Path,
                        concurrency: int) -> dict[str, Holder]:
    """One worker per process ("a", "b"), each opening its share of the sessions' sockets."""
    holders = {}
    for name, process in zip("ab", rig.processes, strict=True):
        job = directory / f"hold-{name}.json"
        job.write_text(json.dumps({
            "port": process.port, "data_dir": str(process.data_dir), "concurrency": concurrency,
            "sessions": [[record.id, record.interview] for record in shares[name]]}))
        worker = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "bench" / "cluster.py"), "hold", str(job),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT)
        holders[name] = Holder(worker, len(shares[name]))
    return holders


async def hold_sockets(job_file: Path) -> None:
    """The worker: open every socket of the job, say how it went on one line of standard
    output, read each socket to the end (as a page does) until standard input closes."""
    job = json.loads(job_file.read_text())
    records = [SessionRecord(id=id_, interview=interview) for id_, interview in job["sessions"]]
    raise_fd_limit(len(records) + SPARE_FDS)
    # Not started here: its address and the cookie secret in its data directory.
    server = LiveHelpProcess(Path(job["data_dir"]), port=job["port"])
    sockets, drains, errors = [], [], []
    pending = iter(enumerate(records))

    async def opener() -> None:
        for index, record in pending:
            try:
                ws = await connect(server.ws_url(f"ws/user/{record.id}"),
                                   server.session_cookie(record, f"held-{index}"))
                await receive(ws, "state")
            except (OSError, ConnectionError, TimeoutError,
                    tornado.websocket.WebSocketError, tornado.httpclient.HTTPError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")  # a refusal is a figure
                continue
            sockets.append(ws)
            drains.append(asyncio.create_task(drain(ws)))

    begun = time.perf_counter()
    await asyncio.gather(*(opener() for _ in range(job["concurrency"])))
    print(json.dumps({"held": len(sockets), "failed": len(errors),
                      "seconds": time.perf_counter() - begun,
                      "errors": sorted(set(errors))[:3]}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for task in drains:
        task.cancel()
    for ws in sockets:
        ws.close()


# -- clients -----------------------------------------------------------------------------

# A typical chat line (as bench/chat.py's); the token that names each message follows it.
TEXT = "Hello, I am stuck on the question about my landlord's deposit. Can you help?"
TOKEN_MARK = " #"
# An ack, a state or an entry not seen this long means something is broken.
WAIT_SECONDS = 30.0


class Peer:
    """One socket read by one task. An `ack` resolves the send waiting for it; each
    `chat` event is timed on arrival by the token ending its text; the latest `state`
    (a page) and each session's latest entry (a Monitor) are kept for `until`."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.acks: dict[str, asyncio.Future] = {}
        self.arrived: dict[str, float] = {}  # token -> time.perf_counter() on arrival
        self.entries: dict[str, dict] = {}  # session id -> entry
        self.state: dict = {}
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        failure: Exception = ConnectionError("socket closed")
        try:
            while (raw := await self.ws.read_message()) is not None:
                now = time.perf_counter()
                decoded = json.loads(raw)  # a message or a list of several (docs/protocol.md)
                for message in decoded if isinstance(decoded, list) else [decoded]:
                    self._take(message, now)
                self._changed.set()
            failure = ConnectionError(f"socket closed ({self.ws.close_code}"
                                      f" {self.ws.close_reason})")
        except Exception as exc:
            failure = exc
            raise
        finally:  # whoever waits learns that nothing more comes, and why
            for answer in self.acks.values():
                if not answer.done():
                    answer.set_exception(failure)
            self._changed.set()

    def _take(self, message: dict, now: float) -> None:
        kind = message["type"]
        if kind == "chat" and TOKEN_MARK in message["text"]:
            self.arrived.setdefault(message["text"].rpartition(TOKEN_MARK)[2], now)
        elif kind in ("ack", "error") and (answer := self.acks.pop(
                message.get("client_id") or message.get("ref") or "", None)):
            if kind == "ack":
                answer.set_result(now)
            else:
                answer.set_exception(RuntimeError(f"server refused a message: {message}"))
        elif kind == "error":
            raise RuntimeError(f"server error: {message}")
        elif kind == "state":
            self.state = message
        elif kind == "session":
            self.entries[message["session"]["session"]] = message["session"]
        elif kind == "monitor":
            self.entries.update((entry["session"], entry) for entry in message["sessions"])

    async def until(self, predicate, timeout: float = WAIT_SECONDS) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                if self._task.done():
                    self._task.result()  # the reader's own failure, if it had one
                    raise ConnectionError(f"socket closed ({self.ws.close_code})")
                self._changed.clear()
                await self._changed.wait()

    async def send(self, **message: object) -> tuple[float, float]:
        """Send a message with a `client_id`; (sent, acknowledged) perf_counter times."""
        answer = asyncio.get_running_loop().create_future()
        self.acks[str(message["client_id"])] = answer
        begun = time.perf_counter()
        await self.ws.write_message(json.dumps(message))
        return begun, await asyncio.wait_for(answer, WAIT_SECONDS)

    def close(self) -> None:
        self._task.cancel()
        self.ws.close()


async def talk(peer: Peer, label: str, count: int | None, session: str = "",
               pause: float = 0.0, seconds: float = 0.0) -> list[tuple[str, float, float]]:
    """`count` chat messages from `peer`, each once the previous is acknowledged, or as
    many as `seconds` allow with `pause` after each ack; (token, sent, acked) of each."""
    rows = []
    deadline = time.perf_counter() + seconds
    while (len(rows) < count) if count is not None else (time.perf_counter() < deadline):
        token = f"{label}-m{len(rows)}"
        address = {"session": session} if session else {}  # an operator names the entry
        rows.append((token, *await peer.send(type="chat", client_id=token,
                                             text=f"{TEXT}{TOKEN_MARK}{token}", **address)))
        if pause:
            await asyncio.sleep(pause)  # pacing of the light load, not a wait for an event
    return rows


async def chat_user(process: LiveHelpProcess, record: SessionRecord, browser: str) -> Peer:
    """An interviewee socket on `process` with chat on, once an operator stands by."""
    user = Peer(await connect(process.ws_url(f"ws/user/{record.id}"),
                              process.session_cookie(record, browser)))
    await user.until(lambda: user.state.get("operators", 0) >= 1)
    await user.ws.write_message(json.dumps({"type": "activate"}))
    await user.until(lambda: user.state.get("active"))
    return user


async def chat_users(process: LiveHelpProcess, records: list[SessionRecord], label: str,
                     operator: User | None = None) -> list[Peer]:
    """`chat_user` per record (with `operator`: each chat held by that operator, or the
    bench would measure someone else)."""
    users = []
    for index, record in enumerate(records):
        users.append(await chat_user(process, record, f"{label}-browser-{index}"))
        holder = users[-1].state["operator_name"]
        if operator is not None and holder != operator.first_name:
            raise RuntimeError(f"{record.id}'s chat is held by {holder}, not"
                               f" {operator.first_name}: {users[-1].state}")
    return users
