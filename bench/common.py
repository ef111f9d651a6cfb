"""Shared pieces of the load generators: processes, seeding, cookies, figures.

Every load goes to 127.0.0.1 only. The livehelp server, the bare Tornado echo
baseline and nx-27017 each run as their own process so their memory and CPU
are measured apart from the load generator's.

`python bench/common.py echo --port P` runs the baseline: a bare Tornado
WebSocket echo server (no auth, no JSON, no store), the floor livehelp is
compared against.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the scripts run as files, the code lives one level up
    sys.path.insert(0, str(ROOT))

import tornado.httpclient
import tornado.ioloop
import tornado.web
import tornado.websocket
import yaml

from state.store.base import SessionRecord, Store, User, new_id

# A process start (imports, store open) takes about a second; allow for a busy machine.
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit towards `wanted` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(wanted, soft), hard) if hard != resource.RLIM_INFINITY else max(wanted, soft)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None,
                  timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:g}s")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuClock:
    """CPU seconds used, since it was made, by some other processes and by this one."""

    def __init__(self, *pids: int) -> None:
        self.pids = pids
        self._start = [cpu_seconds(pid) for pid in pids]
        self._own = time.process_time()

    def used(self) -> tuple[list[float], float]:
        """(seconds per pid, seconds of this process)."""
        return ([cpu_seconds(pid) - start for pid, start in zip(self.pids, self._start,
                                                                  strict=True)],
                time.process_time() - self._own)


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    """Signal the process and wait; kill it if it ignores the signal."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


async def raw_websocket(port: int, path: str, cookie: str) -> socket.socket | None:
    """A WebSocket over a raw TCP socket with a small receive buffer, read up to the end
    of the handshake and not one byte further: a client that reads nothing from then on
    (a slow reader). None when the upgrade is refused."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(sock, (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n"
        f"Cookie: {cookie}\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += await loop.sock_recv(sock, 1)  # the headers only, nothing after
    if answer.startswith(b"HTTP/1.1 101"):
        return sock
    sock.close()
    return None


# -- processes ----------------------------------------------------------------------------

# Benchmarks and fault tests measure load, not the limits on one visitor: one sender
# there sends thousands of messages, and every socket comes from 127.0.0.1.
LOAD_LIMITS: dict[str, Any] = {"limits": {
    "chat burst": 1_000_000, "chat per minute": 60_000_000,
    "sockets per browser": 100_000, "sockets per address": 100_000}}


class LiveHelpProcess:
    """`python server.py` on a free port with its own data directory and config file."""

    def __init__(self, data_dir: Path, config: dict[str, Any] | None = None,
                 port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.config = config or {}
        self.process: subprocess.Popen | None = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cookie_secret = ensure_cookie_secret(self.data_dir)

    def start(self) -> LiveHelpProcess:
        config_file = self.data_dir / "bench-config.yaml"
        config_file.write_text(yaml.safe_dump(self.config))
        log = (self.data_dir / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py"), "--config", str(config_file),
             "--port", str(self.port), "--data-dir", str(self.data_dir)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        log.close()
        wait_for_port(self.port, self.process)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, sig: int = signal.SIGTERM) -> int:
        return stop_process(self.process, sig) if self.process else 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def signed(self, name: str, value: str) -> str:
        return f"{name}={tornado.web.create_signed_value(self.cookie_secret, name, value).decode()}"

    def session_cookie(self, record: SessionRecord, browser: str) -> str:
        return "; ".join([self.signed("lh_sessions", json.dumps({record.interview: record.id})),
                          self.signed("lh_browser", browser)])

    def user_cookie(self, user: User) -> str:
        """The cookie of `user`'s sign-in, made by sign_in() (seed() does it)."""
        sign_in_id = _SIGN_INS.get(user.id)
        if sign_in_id is None:
            raise LookupError(f"{user.email} has no sign-in: call sign_in(store, user) "
                              "while seeding, before the server starts")
        return self.signed("lh_user", sign_in_id)

    def log_tail(self, chars: int = 3000) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def ensure_cookie_secret(data_dir: Path) -> str:
    """The server reads `<data dir>/cookie_secret` when it exists; write one we know."""
    path = data_dir / "cookie_secret"
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret


def start_echo(port: int | None = None) -> tuple[subprocess.Popen, int]:
    """The bare Tornado echo baseline as its own process."""
    port = port or free_port()
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "echo",
                                "--port", str(port)], cwd=ROOT)
    wait_for_port(port, process)
    return process, port


def nx_command() -> list[str]:
    executable = shutil.which("nx-27017")
    return [executable] if executable else [sys.executable, "-m", "nx_27017.nx_27017"]


def start_nx(directory: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """nx-27017 (MongoDB wire protocol) in `directory`; returns (process, uri)."""
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    output = (directory / "nx-27017.out").open("ab")
    process = subprocess.Popen(
        [*nx_command(), "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(directory / "data"), "--pid-file", str(directory / "nx.pid"),
         "--log-file", str(directory / "nx.log")],
        stdout=output, stderr=subprocess.STDOUT, cwd=directory)
    output.close()
    wait_for_port(port, process)
    return process, f"mongodb://127.0.0.1:{port}"


def store_config(database: str, data_dir: Path, mongodb_uri: str = "",
                 mongodb_name: str = "livehelp_bench") -> dict[str, Any]:
    """The `database:` part of a config file."""
    if database == "mongodb":
        return {"database": {"type": "mongodb", "mongodb uri": mongodb_uri, "name": mongodb_name}}
    return {"database": {"type": "sqlite", "path": str(data_dir / "livehelp.sqlite3")}}


def open_store(database: str, data_dir: Path, mongodb_uri: str = "",
               mongodb_name: str = "livehelp_bench") -> Store:
    """A store on the same database the server process will use (for seeding and checks)."""
    from state.store.mongo import MongoStore
    from state.store.sqlite import SQLiteStore

    if database == "mongodb":
        return MongoStore(mongodb_uri, mongodb_name)
    return SQLiteStore(data_dir / "livehelp.sqlite3")


# The sign-in id of every account signed in by sign_in() (user id -> id): the server
# finds the sign-in in the store, LiveHelpProcess.user_cookie() puts its id in the cookie.
_SIGN_INS: dict[str, str] = {}


async def sign_in(store: Store, user: User) -> str:
    """Sign `user` in as the sign-in page does (a sign-in in the store); returns its id."""
    from state.accounts import sign_in as sign_ins

    _SIGN_INS[user.id] = await sign_ins.create(store, user.id)
    return _SIGN_INS[user.id]


async def seed(store: Store, sessions: int, operators: int, role: str = "advocate",
               interview: str = "bench") -> tuple[list[SessionRecord], list[User]]:
    """Sessions with live help on (help mode, `role`) and advocate accounts serving it."""
    from state.store.base import OperatorSettings

    records = []
    for _ in range(sessions):
        record = SessionRecord(id=new_id(), interview=interview, live_help={
            "availability": "available", "mode": "help", "partner_roles": [role]})
        await store.save_session(record)
        records.append(record)
    users = []
    for number in range(operators):
        # A placeholder hash: these accounts sign in by cookie only, never by password.
        user = await store.create_user(User(
            id=new_id(), email=f"operator{number}-{new_id()[:6]}@bench.invalid",
            password_hash="!", first_name=f"Op{number}", privileges=["advocate"]))
        await store.save_operator_settings(OperatorSettings(user.id, available=True, roles=[role]))
        await sign_in(store, user)
        users.append(user)
    return records, users


# -- client side --------------------------------------------------------------------------

async def connect(url: str, cookie: str = "", port: int | None = None,
                  timeout: float = 30.0) -> tornado.websocket.WebSocketClientConnection:
    """A WebSocket with a same-origin Origin header (and `cookie`)."""
    origin_port = port or int(url.split(":")[2].split("/")[0])
    headers = {"Origin": f"http://127.0.0.1:{origin_port}"}
    if cookie:
        headers["Cookie"] = cookie
    request = tornado.httpclient.HTTPRequest(url, headers=headers, connect_timeout=timeout,
                                             request_timeout=timeout)
    return await tornado.websocket.websocket_connect(request)


async def receive(ws: tornado.websocket.WebSocketClientConnection, kind: str | None = None,
                  timeout: float = 30.0) -> dict[str, Any]:
    # A frame holds one message or a JSON array of several (docs/protocol.md).
    pending: deque = ws.__dict__.setdefault("_livehelp_pending", deque())
    while True:
        while not pending:
            raw = await asyncio.wait_for(ws.read_message(), timeout)
            if raw is None:
                raise ConnectionError(f"socket closed ({ws.close_code} {ws.close_reason})")
            decoded = json.loads(raw)
            pending.extend(decoded if isinstance(decoded, list) else [decoded])
        message = pending.popleft()
        if kind is None or message.get("type") == kind:
            return message


async def drain(ws: tornado.websocket.WebSocketClientConnection) -> int:
    """Read and drop everything the socket receives until it closes; returns the count."""
    count = 0
    while await ws.read_message() is not None:
        count += 1
    return count


async def scrape_metrics(server: LiveHelpProcess) -> dict[str, float]:
    """/metrics of the server process as {name{labels}: value}."""
    from prometheus_client.parser import text_string_to_metric_families

    response = await tornado.httpclient.AsyncHTTPClient().fetch(server.url("metrics"),
                                                                request_timeout=60)
    found = {}
    for family in text_string_to_metric_families(response.body.decode()):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def lag_figures(metrics: dict[str, float]) -> tuple[float, float, float]:
    """(p50, p99, max) event-loop lag in milliseconds over the sampler's recent window."""
    def get(q: str) -> float:
        return metrics.get(f"livehelp_event_loop_lag_recent_seconds{{quantile={q}}}",
                           float("nan")) * 1000
    return get("0.5"), get("0.99"), get("1.0")


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


# -- the baseline -------------------------------------------------------------------------

class EchoSocket(tornado.websocket.WebSocketHandler):
    """Sends every message straight back: the least a WebSocket server can do."""

    def check_origin(self, origin: str) -> bool:
        return True

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


def run_echo(port: int) -> None:
    raise_fd_limit(1 << 20)
    app = tornado.web.Application([(r"/echo", EchoSocket)])

    async def serve() -> None:
        app.listen(port, "127.0.0.1")
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()

    asyncio.run(serve())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="bench helpers; 'echo' runs the baseline")
    parser.add_argument("command", choices=["echo"])
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    run_echo(arguments.port)
