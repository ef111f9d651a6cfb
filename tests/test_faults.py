"""Fault tests over real server processes: nothing acknowledged is ever lost or doubled.

An interviewee chats with an operator like a page does: messages carry a
`client_id`, up to `WINDOW` are in flight, and after a reconnect the page says
`hello` and resends whatever was not acknowledged. Between the messages the
socket is dropped, the server is stopped with SIGTERM or killed with SIGKILL and
restarted on the same port and data directory. Afterwards the store must hold
every message exactly once, in the order sent. A MongoDB store (nx-27017) that
goes away mid-chat must leave the server up, refuse messages with
`store_unavailable` (no ack), and take them once it is back.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import tornado.httpclient
from tornado.iostream import StreamClosedError

from bench.common import (
    LOAD_LIMITS,
    LiveHelpProcess,
    connect,
    sign_in,
    start_nx,
    stop_process,
    store_config,
)
from state.store.base import SessionRecord, Store, User, new_id
from state.store.mongo import MongoStore
from state.store.sqlite import SQLiteStore
from tests import frames

pytestmark = pytest.mark.faults

MESSAGES = 10_000
# In flight at once, as a page that resends after reconnecting may have them.
WINDOW = 32
RECEIVE_TIMEOUT = 15.0


class ChatPage:
    """One interviewee page and one Monitor page talking through a server process."""

    def __init__(self, server: LiveHelpProcess, record: SessionRecord, user: User) -> None:
        self.server, self.record, self.user = server, record, user
        self.pending: deque[str] = deque()  # sent, not acknowledged, in send order
        self.acked: list[tuple[str, int]] = []  # (client_id, seq) in ack order
        self.sent = 0
        self.resent = 0  # messages sent again after a reconnect (stored at most once)
        self.user_ws = self.operator_ws = None
        self.errors: list[dict] = []

    async def open(self) -> None:
        """(Re)connect both pages; the interviewee says hello and resends what is pending."""
        self.operator_ws = await connect(self.server.ws_url("ws/monitor"),
                                         self.server.user_cookie(self.user))
        await self.next_message(self.operator_ws, "monitor")
        self.user_ws = await connect(self.server.ws_url(f"ws/user/{self.record.id}"),
                                     self.server.session_cookie(self.record, "fault-browser"))
        await self.next_message(self.user_ws, "state")
        last_seq = self.acked[-1][1] if self.acked else 0
        await self.user_ws.write_message(json.dumps(
            {"type": "hello", "last_seq": last_seq, "active": True}))
        while not (await self.next_message(self.user_ws, "state"))["active"]:
            pass
        self.resent += len(self.pending)
        for client_id in self.pending:
            await self.send(client_id)

    def close(self) -> None:
        for ws in (self.user_ws, self.operator_ws):
            if ws is not None:
                ws.close()

    def drop(self) -> None:
        """Cut the interviewee's TCP connection without a closing handshake."""
        self.user_ws.protocol.stream.close()
        self.operator_ws.close()

    @staticmethod
    async def next_message(ws, kind: str | None = None) -> dict:
        while True:
            message = await frames.next_message(ws, RECEIVE_TIMEOUT)
            if message is None:
                raise StreamClosedError()
            if kind is None or message["type"] == kind:
                return message

    async def send(self, client_id: str) -> None:
        await self.user_ws.write_message(json.dumps(
            {"type": "chat", "client_id": client_id, "text": f"message {client_id}"}))

    async def chat_until(self, total: int, stop_after: int | None = None) -> None:
        """Send and collect acks until `total` are acknowledged or `stop_after` acks
        more arrived; raises StreamClosedError when the socket goes away."""
        goal = total if stop_after is None else min(total, len(self.acked) + stop_after)
        while len(self.acked) < goal:
            while len(self.pending) < WINDOW and self.sent < total:
                client_id = f"m{self.sent:06d}"
                self.sent += 1
                self.pending.append(client_id)
                await self.send(client_id)
            message = await self.next_message(self.user_ws)
            if message["type"] == "ack":
                # The socket handles frames in order, so acks come in send order.
                assert message["client_id"] == self.pending[0], message
                self.pending.popleft()
                if self.acked:
                    assert message["seq"] > self.acked[-1][1], (message, self.acked[-1])
                self.acked.append((message["client_id"], message["seq"]))
            elif message["type"] == "error":
                self.errors.append(message)
                raise AssertionError(f"refused: {message}")


async def seed(store: Store) -> tuple[SessionRecord, User]:
    from state.store.base import OperatorSettings

    await store.open()
    try:
        record = SessionRecord(id=new_id(), interview="faults", live_help={
            "availability": "available", "mode": "help", "partner_roles": ["advocate"]})
        await store.save_session(record)
        user = await store.create_user(User(id=new_id(), email="olga@faults.invalid",
                                            password_hash="!", first_name="Olga",
                                            privileges=["advocate"]))
        await store.save_operator_settings(OperatorSettings(user.id, True, ["advocate"]))
        await sign_in(store, user)  # the cookie LiveHelpProcess.user_cookie() gives
    finally:
        await store.close()
    return record, user


async def stored_client_ids(store: Store, conversation: str) -> list[str]:
    await store.open()
    try:
        return [m.client_id for m in await store.get_messages(conversation)]
    finally:
        await store.close()


async def run_with_faults(tmp_path: Path, fault: Callable[[ChatPage], Awaitable[None]],
                          every: int) -> tuple[ChatPage, int]:
    """Chat MESSAGES messages, calling `fault` after every `every` acks; (page, faults)."""
    store = SQLiteStore(tmp_path / "livehelp.sqlite3")
    record, user = await seed(store)
    server = LiveHelpProcess(tmp_path, LOAD_LIMITS).start()
    page = ChatPage(server, record, user)
    faults = 0
    try:
        await page.open()
        while len(page.acked) < MESSAGES:
            try:
                await page.chat_until(MESSAGES, stop_after=every)
                if len(page.acked) < MESSAGES:
                    faults += 1
                    await fault(page)
            except StreamClosedError:
                pass
            if len(page.acked) < MESSAGES:
                await page.open()
    finally:
        page.close()
        server.stop()
    conversation = f"{record.id}|b:fault-browser"
    assert await stored_client_ids(store, conversation) == [c for c, _ in page.acked]
    assert [c for c, _ in page.acked] == [f"m{n:06d}" for n in range(MESSAGES)]
    print(f"{fault.__name__}: {MESSAGES} acked and stored once in order across {faults} faults,"
          f" {page.resent} resent")  # the figures for the closing note (pytest -s)
    return page, faults


async def test_dropped_sockets_lose_and_double_nothing(tmp_path: Path) -> None:
    async def drop(page: ChatPage) -> None:
        page.drop()

    page, faults = await run_with_faults(tmp_path, drop, every=400)
    assert faults >= 20 and len(page.acked) == MESSAGES


async def restart(page: ChatPage, sig: int) -> None:
    page.server.stop(sig)
    page.close()
    page.server.start()


async def test_sigterm_and_restart_lose_and_double_nothing(tmp_path: Path) -> None:
    async def sigterm(page: ChatPage) -> None:
        await restart(page, signal.SIGTERM)

    page, faults = await run_with_faults(tmp_path, sigterm, every=2000)
    assert faults >= 4 and len(page.acked) == MESSAGES


async def test_sigkill_and_restart_lose_and_double_nothing(tmp_path: Path) -> None:
    async def sigkill(page: ChatPage) -> None:
        await restart(page, signal.SIGKILL)

    page, faults = await run_with_faults(tmp_path, sigkill, every=2000)
    assert faults >= 4 and len(page.acked) == MESSAGES


async def test_mongodb_going_away_refuses_then_recovers(tmp_path: Path) -> None:
    nx_dir = tmp_path / "nx"
    nx, uri = start_nx(nx_dir)
    nx_port = int(uri.rsplit(":", 1)[1])
    store = MongoStore(uri, "faults")
    record, user = await seed(store)
    server = LiveHelpProcess(tmp_path / "server",
                             {**store_config("mongodb", tmp_path, uri, "faults"),
                              **LOAD_LIMITS}).start()
    page = ChatPage(server, record, user)
    try:
        await page.open()
        await page.chat_until(20)
        stop_process(nx)
        refused = []
        for number in range(3):  # one at a time: a refused message must not be overtaken
            client_id = f"down{number}"
            await page.send(client_id)
            message = await page.next_message(page.user_ws)
            while message["type"] not in ("ack", "error"):
                message = await page.next_message(page.user_ws)
            assert message["type"] == "error", message
            assert message["code"] == "store_unavailable" and message["ref"] == client_id
            refused.append(client_id)
        assert server.process.poll() is None
        answer = await tornado.httpclient.AsyncHTTPClient().fetch(
            server.url("metrics"), raise_error=False)
        assert answer.code == 200 and b"livehelp_store_up 0.0" in answer.body

        nx, _ = start_nx(nx_dir, nx_port)
        for client_id in refused:  # the page retries until the store is back
            for _attempt in range(60):
                await page.send(client_id)
                message = await page.next_message(page.user_ws)
                while message["type"] not in ("ack", "error"):
                    message = await page.next_message(page.user_ws)
                if message["type"] == "ack":
                    page.acked.append((client_id, message["seq"]))
                    break
                await asyncio.sleep(0.5)
            else:
                pytest.fail(f"{client_id} never went through")
    finally:
        page.close()
        server.stop()
        stored = await stored_client_ids(MongoStore(uri, "faults"), f"{record.id}|b:fault-browser")
        stop_process(nx)
    assert stored == [c for c, _ in page.acked]
    assert stored[-3:] == ["down0", "down1", "down2"]
