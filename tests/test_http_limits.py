"""HTTP limits (handlers/http_limits.py): the header timeout, the body limit answered
with 413 before the body is read, an accept loop that stays calm without file
descriptors, and /metrics behind the load balancer."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import tornado.netutil

import server as livehelp_server
from bench.common import LiveHelpProcess, connect, cpu_seconds, receive, seed
from handlers.http_limits import REFUSED_LOG_SECONDS, make_http_server
from state.config import Config
from state.store.sqlite import SQLiteStore
from tests.conftest import LiveServer

# Small limits, so that the tests send little and wait little.
HEADER_SECONDS = 0.5
MAX_BODY_BYTES = 4096
# Far longer than the header timeout: a connection closed before this was closed by
# the header timeout, not the idle one.
IDLE_SECONDS = 60.0
# How long a test waits for an answer the server owes; generous for a busy machine.
ANSWER_TIMEOUT = 20.0


@pytest.fixture
async def limited(config: Config) -> AsyncIterator[int]:
    """The app behind the server `server.py` builds (make_http_server) with small limits;
    yields its port."""
    config.limits.header_seconds = HEADER_SECONDS
    config.limits.idle_connection_seconds = IDLE_SECONDS
    config.limits.max_body_bytes = MAX_BODY_BYTES
    services = livehelp_server.make_services(config)
    await services.start()
    http = make_http_server(livehelp_server.make_app(services), config)
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    http.add_sockets(sockets)
    try:
        yield sockets[0].getsockname()[1]
    finally:
        http.stop()
        await services.stop()


async def exchange(port: int, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    return reader, writer


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(status, body) of one HTTP response with a Content-Length."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), ANSWER_TIMEOUT)
    lines = head.decode("latin1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    length = int(headers.get("Content-Length", "0"))
    body = await asyncio.wait_for(reader.readexactly(length), ANSWER_TIMEOUT)
    return int(lines[0].split()[1]), body


async def test_half_a_request_header_is_closed_after_the_header_timeout(limited: int) -> None:
    reader, writer = await exchange(limited, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    # EOF: the server closed it (long before the idle timeout, which would fail here).
    assert await asyncio.wait_for(reader.read(), ANSWER_TIMEOUT) == b""
    writer.close()


async def test_a_large_declared_body_gets_413_before_it_is_sent(limited: int) -> None:
    reader, writer = await exchange(limited, (
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {90 * 1024 * 1024}\r\n\r\n").encode())
    status, body = await read_response(reader)  # not one byte of the body was sent
    assert status == 413
    assert body.decode() == ("This request is too large: the server accepts at most 4 KB. "
                             "Nothing was saved.\n")
    writer.close()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


CHUNKED_POST = (b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")


async def test_a_chunked_body_over_the_limit_gets_413(limited: int) -> None:
    reader, writer = await exchange(limited, CHUNKED_POST)
    for _ in range(3):  # 3 KB a chunk: the second passes the limit of 4 KB
        writer.write(chunk(b"x" * 3000))
    await writer.drain()
    status, body = await read_response(reader)
    assert status == 413 and b"at most 4 KB" in body
    writer.close()


async def test_a_chunked_body_within_the_limit_reaches_the_application(limited: int) -> None:
    reader, writer = await exchange(limited, CHUNKED_POST + chunk(b"email=a") + b"0\r\n\r\n")
    status, _body = await read_response(reader)
    assert status == 403  # the sign-in form's XSRF check answered: the body got through
    writer.close()


async def test_metrics_behind_the_load_balancer_are_for_admins_only(
        config: Config, live_server: LiveServer) -> None:
    """The proxy connects over loopback for every visitor, and may send no
    X-Forwarded-For: nobody is "local" then."""
    config.behind_https_load_balancer = True
    assert config.metrics_localhost_only
    assert (await live_server.fetch("metrics")).code == 403


# -- out of file descriptors: a real server process with a low limit -------------------

# Connections the test opens beyond what the server's descriptors allow.
EXTRA_CONNECTIONS = 60
# Descriptors left to the server beyond those it has open when the test starts.
SPARE_DESCRIPTORS = 40
# How long the server is watched while it cannot accept (CPU used in that time).
WATCH_SECONDS = 3.0


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def refusal_lines(server: LiveHelpProcess) -> list[str]:
    """The accept loop's warnings about running out of descriptors."""
    return [line for line in server.log_tail(10**7).splitlines()
            if "handlers.http_limits: Too many open files" in line]


async def test_without_file_descriptors_the_server_stays_calm_and_serves_open_sockets(
        tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "livehelp.sqlite3")
    await store.open()
    (record,), _operators = await seed(store, sessions=1, operators=0)
    await store.close()
    server = LiveHelpProcess(tmp_path, {"limits": {"header seconds": 600}}).start()
    held: list[asyncio.StreamWriter] = []
    try:
        # Open before the descriptors run out: an interviewee's socket and a kept-alive
        # connection.
        page = await connect(server.ws_url(f"ws/user/{record.id}"),
                             server.session_cookie(record, "browser-calm"))
        await receive(page, "state")
        reader, writer = await exchange(server.port, b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_response(reader))[0] == 200

        limit = open_descriptors(server.pid) + SPARE_DESCRIPTORS
        resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (limit, limit))
        for _ in range(SPARE_DESCRIPTORS + EXTRA_CONNECTIONS):  # half-open: half a header
            _, half_open = await exchange(server.port, b"GET / HTTP/1.1\r\n")
            held.append(half_open)
        for _ in range(int(ANSWER_TIMEOUT / 0.1)):  # until the server says it ran out
            if refusal_lines(server):
                break
            await asyncio.sleep(0.1)
        assert refusal_lines(server), server.log_tail()
        first_line_seen = time.monotonic()

        cpu_before = cpu_seconds(server.pid)
        await asyncio.sleep(WATCH_SECONDS)
        cpu_used = cpu_seconds(server.pid) - cpu_before
        # Retrying accept() at once keeps a core busy (measured: 0.9 s of CPU in these
        # 3 s on a shared machine); pausing costs next to nothing (0.02 s).
        assert cpu_used < WATCH_SECONDS / 10, cpu_used

        writer.write(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")  # the kept-alive connection
        assert (await read_response(reader))[0] == 200
        await page.write_message(json.dumps({"type": "no such type"}))
        assert (await receive(page, "error"))["code"] == "unknown_type"
        # One line at once, then at most one per REFUSED_LOG_SECONDS (not one per pause).
        allowed = 1 + int((time.monotonic() - first_line_seen) // REFUSED_LOG_SECONDS) + 1
        assert 1 <= len(refusal_lines(server)) <= allowed, refusal_lines(server)

        for half_open in held:  # descriptors free again: the queued connections are taken
            half_open.close()
        held.clear()
        reader, fresh = await exchange(server.port, b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_response(reader))[0] == 200
        fresh.close()
        writer.close()
        page.close()
    finally:
        for half_open in held:
            half_open.close()
        server.stop()
