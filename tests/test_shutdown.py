"""Graceful shutdown (server.serve, handlers/shutdown.py): on SIGTERM the messages in
flight are stored and acknowledged, every socket is closed with 1012, the process exits
with 0; what was not acknowledged is resent after the restart and stored exactly once."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from bench.common import LiveHelpProcess, connect, receive, seed
from handlers.shutdown import stop_serving
from state.accounts import sign_in
from state.store.base import SessionRecord
from state.store.sqlite import SQLiteStore
from tests.conftest import LiveServer
from tests.socket_helpers import chatting

# Sent at once, so that at SIGTERM some are acknowledged, one is being handled and the
# rest wait unread.
MESSAGES = 300
BROWSER = "shutdown-browser"
# Bounds for what the server owes; generous for a busy machine.
RECEIVE_TIMEOUT = 20.0
EXIT_TIMEOUT = 30.0
CLOSE_SERVER_RESTART = 1012
# The chat rate limits would refuse a burst of 300; this test is about shutdown.
CONFIG = {"limits": {"chat burst": 100_000, "chat per minute": 1_000_000}}


class Chat:
    """An interviewee page and a Monitor page connected to a server process."""

    def __init__(self, server: LiveHelpProcess, record: SessionRecord, operator_cookie: str) -> None:
        self.server, self.record, self.operator_cookie = server, record, operator_cookie
        self.acked: dict[str, int] = {}  # client_id -> seq, in ack order
        self.errors: list[dict] = []

    async def open(self) -> None:
        self.operator = await connect(self.server.ws_url("ws/monitor"), self.operator_cookie)
        await receive(self.operator, "monitor", RECEIVE_TIMEOUT)
        self.user = await connect(self.server.ws_url(f"ws/user/{self.record.id}"),
                                  self.server.session_cookie(self.record, BROWSER))
        await receive(self.user, "state", RECEIVE_TIMEOUT)
        await self.user.write_message(json.dumps({"type": "hello", "active": True,
                                                  "last_seq": max(self.acked.values(), default=0)}))
        while not (await receive(self.user, "state", RECEIVE_TIMEOUT))["active"]:
            pass

    async def send(self, client_id: str) -> None:
        await self.user.write_message(json.dumps(
            {"type": "chat", "client_id": client_id, "text": f"message {client_id}"}))

    async def next_answer(self) -> dict | None:
        """The next ack or error (None once the socket has closed)."""
        while True:
            try:
                message = await receive(self.user, None, RECEIVE_TIMEOUT)
            except ConnectionError:
                return None
            if message["type"] in ("ack", "error"):
                return message

    def take(self, answer: dict) -> None:
        if answer["type"] == "ack":
            assert answer["client_id"] not in self.acked, answer
            self.acked[answer["client_id"]] = answer["seq"]
        else:
            self.errors.append(answer)


async def seed_chat(tmp_path: Path) -> tuple[SessionRecord, str]:
    """A help-mode session and an available operator with a live sign-in: (record,
    the sign-in id)."""
    store = SQLiteStore(tmp_path / "livehelp.sqlite3")
    await store.open()
    try:
        (record,), (operator,) = await seed(store, sessions=1, operators=1)
        return record, await sign_in.create(store, operator.id)
    finally:
        await store.close()


async def stored_client_ids(tmp_path: Path, conversation: str) -> list[str]:
    store = SQLiteStore(tmp_path / "livehelp.sqlite3")
    await store.open()
    try:
        return [message.client_id for message in await store.get_messages(conversation)]
    finally:
        await store.close()


async def test_sigterm_acknowledges_or_closes_with_1012_and_nothing_is_lost_or_doubled(
        tmp_path: Path) -> None:
    record, sign_in_id = await seed_chat(tmp_path)
    server = LiveHelpProcess(tmp_path, CONFIG).start()
    chat = Chat(server, record, server.signed("lh_user", sign_in_id))
    sent = [f"m{number:04d}" for number in range(MESSAGES)]
    try:
        await chat.open()
        for client_id in sent:
            await chat.send(client_id)
        chat.take(await chat.next_answer())  # the server is handling the burst
        server.process.send_signal(signal.SIGTERM)
        while (answer := await chat.next_answer()) is not None:
            chat.take(answer)
        assert chat.errors == []  # nothing refused (a cleared live state says unknown_session)
        if len(chat.acked) < MESSAGES:
            assert chat.user.close_code == CLOSE_SERVER_RESTART, chat.user.close_code
            assert chat.user.close_reason == "The server is restarting."
        assert (await receive_close(chat.operator)) == CLOSE_SERVER_RESTART
        assert await asyncio.to_thread(server.process.wait, EXIT_TIMEOUT) == 0
        assert list(chat.acked) == sent[:len(chat.acked)]  # in order, none skipped
        print(f"SIGTERM: {len(chat.acked)} of {MESSAGES} acknowledged before the close")

        server.start()  # same port, same data directory
        await chat.open()
        unacked = [client_id for client_id in sent if client_id not in chat.acked]
        for client_id in unacked:  # as the page does after reconnecting
            await chat.send(client_id)
        while len(chat.acked) < MESSAGES:
            answer = await chat.next_answer()
            assert answer is not None, "the socket closed"
            chat.take(answer)
        assert chat.errors == []
    finally:
        server.stop()
    assert await stored_client_ids(tmp_path, f"{record.id}|b:{BROWSER}") == sent
    assert sorted(chat.acked.values()) == list(range(1, MESSAGES + 1))


async def receive_close(ws) -> int | None:
    """Read `ws` until it closes; its close code."""
    while await asyncio.wait_for(ws.read_message(), RECEIVE_TIMEOUT) is not None:
        pass
    return ws.close_code


@pytest.mark.parametrize("sender", ["user", "operator"])
async def test_a_message_being_stored_is_acknowledged_before_the_close(
        live_server: LiveServer, monkeypatch: pytest.MonkeyPatch, sender: str) -> None:
    """The store holds the write until the shutdown waits for the messages in flight:
    its ack still comes before the closing frame (the Monitor's socket sends at most
    one frame per 10 ms, so its ack may still wait in its outbox then)."""
    _record, user, operator, entry = await chatting(live_server)
    store, sockets = live_server.services.store, live_server.app.settings["sockets"]
    writing, release = asyncio.Event(), asyncio.Event()
    add_message, drain = store.add_message, sockets.drain

    async def held_add_message(message):
        writing.set()
        await release.wait()
        return await add_message(message)

    async def drain_then_release(timeout: float) -> bool:
        release.set()
        return await drain(timeout)

    monkeypatch.setattr(store, "add_message", held_add_message)
    monkeypatch.setattr(sockets, "drain", drain_then_release)
    person = user if sender == "user" else operator
    await person.send(type="chat", client_id="in-flight", text="almost sent",
                      **({"session": entry["key"]} if sender == "operator" else {}))
    await asyncio.wait_for(writing.wait(), RECEIVE_TIMEOUT)
    shutdown = asyncio.ensure_future(stop_serving(StoppedServer(), sockets))
    assert (await person.receive("ack", RECEIVE_TIMEOUT))["client_id"] == "in-flight"
    assert await receive_close(person.ws) == CLOSE_SERVER_RESTART
    await shutdown
    (operator if sender == "user" else user).close()


class StoppedServer:
    """Stands in for the HTTP server (the fixture stops the real one)."""

    def stop(self) -> None:
        """Nothing listens here."""
