"""Hypothesis over every WebSocket message type of both sockets.

Wrong types, missing keys, huge strings, deep nesting, invalid UTF-8 and binary
frames: the server answers `error` (or closes with a proper code), never raises
an uncaught exception, and a bystander chat on another session goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.monitor_socket import MonitorSocket
from handlers.user_socket import UserSocket
from tests.conftest import LiveServer
from tests.frames import next_message
from tests.socket_helpers import Person, interviewee, live_session, operator, session_cookie

pytestmark = pytest.mark.fuzz

EXAMPLES = 150
# Close codes a hostile client may legitimately get: policy violation (too many
# bad frames), message too big, invalid frame payload (bad UTF-8).
PROPER_CLOSES = {1007, 1008, 1009, None}
# Field names the sockets read; every message type gets any subset of them.
FIELDS = ("last_seq", "active", "client_id", "text", "typing", "available", "roles",
          "phone", "session", "on")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=5),
    max_leaves=15)
huge_strings = st.integers(min_value=1_000, max_value=100_000).map(lambda n: "x" * n)


def messages(types: frozenset[str], session_keys: st.SearchStrategy) -> st.SearchStrategy:
    """A message of one of `types` with any subset of the known fields, any values."""
    values = json_values | huge_strings | session_keys
    return st.builds(
        lambda kind, fields: {"type": kind, **fields},
        st.sampled_from(sorted(types)) | json_values,
        st.dictionaries(st.sampled_from(FIELDS), values, max_size=4))


def deep(depth: int) -> str:
    return '{"type": "chat", "text": ' + "[" * depth + "]" * depth + "}"


def frames(types: frozenset[str], session_keys: st.SearchStrategy) -> st.SearchStrategy:
    """(payload, binary): JSON text, raw text, deep nesting, invalid UTF-8, binary."""
    return st.one_of(
        messages(types, session_keys).map(lambda m: (json.dumps(m), False)),
        st.text(max_size=200).map(lambda t: (t, False)),
        st.integers(min_value=10, max_value=30_000).map(lambda d: (deep(d), False)),
        st.binary(min_size=1, max_size=50).map(lambda b: (b"\xff\xfe" + b, False)),
        st.binary(max_size=2000).map(lambda b: (b, True)),
    )


class ErrorLog(logging.Handler):
    """Collects ERROR records: an uncaught exception in a handler is logged as one."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Scene:
    """An attacker's sockets beside a bystander chat (Bob with Olga) on another session."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.sent = self.errors = self.closes = 0
        self.bystander_messages = 0

    async def setup(self) -> None:
        server = self.server
        self.olga = await operator(server, "olga@example.com")
        self.bob_record = await live_session(server)
        self.bob = await interviewee(server, self.bob_record, browser="bob-browser")
        await self.bob.send(type="activate")
        await self.bob.until("state", lambda m: m["active"])
        self.target = await live_session(server)
        self.target_key = f"{self.target.id}|b:mallory-browser"
        self.mallory_user = await self.open_user()
        self.mallory_operator_user = await server.add_user("max@example.com", ("advocate",))
        self.mallory_operator = await self.open_operator()

    async def open_user(self) -> Person:
        return await interviewee(self.server, self.target, browser="mallory-browser")

    async def open_operator(self) -> Person:
        ws = await self.server.websocket("ws/monitor",
                                         self.server.user_cookie(self.mallory_operator_user))
        person = Person(ws)
        await person.receive("monitor")
        return person

    async def attack(self, person: Person, payload: str | bytes, binary: bool,
                     sentinel: dict[str, Any], sentinel_reply: str) -> bool:
        """Send the frame, then a valid sentinel; True if the socket is still open.
        Every reply before the sentinel's must be a known message or an error."""
        self.sent += 1
        try:
            await person.ws.write_message(payload, binary=binary)
            await person.ws.write_message(json.dumps(sentinel))
        except Exception:  # noqa: BLE001  (the server may already have closed it)
            return self.closed(person)
        while True:
            reply = await next_message(person.ws, timeout=None)
            if reply is None:
                return self.closed(person)
            assert isinstance(reply.get("type"), str), reply
            if reply["type"] == "error":
                assert isinstance(reply["code"], str) and isinstance(reply["message"], str)
                self.errors += 1
            elif reply["type"] == sentinel_reply:
                return True

    def closed(self, person: Person) -> bool:
        assert person.ws.close_code in PROPER_CLOSES, person.ws.close_code
        self.closes += 1
        return False

    async def bystander_chat(self) -> None:
        self.bystander_messages += 1
        client_id = f"bob-{self.bystander_messages}"
        await self.bob.send(type="chat", client_id=client_id, text="still here?")
        ack = await self.bob.receive("ack")
        assert ack["client_id"] == client_id
        await self.olga.until("chat", lambda m: m["client_id"] == client_id)


@pytest.fixture
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


@pytest.fixture
async def scene(live_server: LiveServer) -> AsyncIterator[Scene]:
    scene = Scene(live_server)
    await scene.setup()
    yield scene
    # The totals for the closing note (pytest -s).
    print(f"fuzz: {scene.sent} hostile frames, {scene.errors} error replies,"
          f" {scene.closes} proper closes, {scene.bystander_messages} bystander messages acked")


FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow])
SESSION_KEYS = st.just("")  # replaced per test with the target's real key


@FUZZ_SETTINGS
@given(frame=frames(UserSocket.message_types, SESSION_KEYS))
async def test_interviewee_socket_survives_hostile_frames(scene: Scene, error_log: ErrorLog,
                                                          frame: tuple) -> None:
    payload, binary = frame
    if not await scene.attack(scene.mallory_user, payload, binary,
                              {"type": "hello", "last_seq": 10**9}, "state"):
        scene.mallory_user = await scene.open_user()
    await scene.bystander_chat()
    assert not error_log.records, [r.getMessage() for r in error_log.records]


@FUZZ_SETTINGS
@given(frame=frames(MonitorSocket.message_types, st.sampled_from(["target", "bob"])))
async def test_operator_socket_survives_hostile_frames(scene: Scene, error_log: ErrorLog,
                                                       frame: tuple) -> None:
    payload, binary = frame
    if isinstance(payload, str):  # point some frames at real sessions
        payload = payload.replace('"target"', json.dumps(scene.target_key))
        payload = payload.replace('"bob"', json.dumps(f"{scene.bob_record.id}|b:elsewhere"))
    if not await scene.attack(scene.mallory_operator, payload, binary,
                              {"type": "set_status", "available": False}, "monitor"):
        scene.mallory_operator = await scene.open_operator()
    await scene.bystander_chat()
    assert not error_log.records, [r.getMessage() for r in error_log.records]


async def test_a_socket_without_the_session_cookie_is_refused(live_server: LiveServer) -> None:
    record = await live_session(live_server)
    other = await live_session(live_server)
    with pytest.raises(Exception) as refused:
        await live_server.websocket(f"ws/user/{record.id}", session_cookie(live_server, other))
    assert "403" in str(refused.value)
