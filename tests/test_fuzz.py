"""Hypothesis over every WebSocket message type of both sockets, with every field.

Each type of docs/protocol.md gets its own fields, with values a page could send
(real screens, fields, choices, session keys) and hostile ones (wrong types, the
limits and one past them, huge strings, private fields, junk JSON), or goes without
them; besides: unknown types, raw text, deep nesting, invalid UTF-8 and binary
frames. The server answers `error` (or closes with a proper code), never raises an
uncaught exception, and a bystander chat on another session goes on.

The tables below are written from docs/protocol.md, not read from the handlers.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
import tornado.websocket
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from state.config import Config
from state.store.base import SessionRecord, new_id
from tests.conftest import LiveServer
from tests.frames import next_message
from tests.socket_helpers import Person, interviewee, live_session, operator, session_cookie

pytestmark = pytest.mark.fuzz

EXAMPLES = 150  # drawn by hypothesis per socket, besides the explicit ones
BATCH = 4  # a drawn example sends 1 to BATCH frames
EXPLICIT_BATCH = 10  # fewer than the 20 bad frames in a row that close a socket
# Close codes a hostile client may legitimately get: policy violation (too many
# bad frames), message too big, invalid frame payload (bad UTF-8).
PROPER_CLOSES = {1007, 1008, 1009, None}
REPLY_TIMEOUT = 10.0  # the server answers every frame: waiting longer is a failure
MAX_CHAT_CHARS = 4000  # `live help: max chat characters`, the default
INTERVIEW = "cobrowse_demo"  # the target's interview: real screens, fields and buttons
PAGE_SCREENS = ("about", "household", "secrets", "review")
# A new screen every few examples: `screen` frames are rate-limited (docs/protocol.md).
SHOW_EVERY = 4

# Client → server, per socket: each type and its fields (docs/protocol.md).
USER_TYPES = {
    "hello": ("last_seq", "active"),
    "history": ("conversation", "after"),
    "activate": (),
    "deactivate": (),
    "chat": ("client_id", "text"),
    "typing": ("typing",),
    "screen": ("screen", "values"),
    "field": ("name", "value"),
}
MONITOR_TYPES = {
    "hello": ("last_seq",),
    "history": ("conversation", "after"),
    "set_status": ("available",),
    "set_roles": ("roles",),
    "chat": ("session", "client_id", "text"),
    "take": ("session",),
    "typing": ("session", "typing"),
    "block": ("session",),
    "unblock": ("session",),
    "set_phone": ("phone",),
    "phone": ("session", "on"),
    "observe": ("session",),
    "stop_observe": ("session",),
    "control": ("session",),
    "stop_control": ("session",),
    "set_field": ("session", "name", "value"),
    "press": ("session", "action"),
}
# Types only the server sends: a client sending them is refused.
SERVER_TYPES = ("state", "ack", "error", "history_more", "monitor", "session", "session_gone",
                "roles", "observe_screen", "observe_field", "observe_end")
# The tests put real keys in place of these (the JSON strings "target", "bob").
TARGET, BOB = "target", "bob"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=5),
    max_leaves=15)
huge_strings = st.integers(min_value=1_000, max_value=100_000).map(lambda n: "x" * n)
seqs = st.integers(min_value=0, max_value=2**63 - 1)
# Valid-looking: the demo's own screens, fields and keys (other strings are hostile ones).
screen_ids = st.sampled_from(["about", "household", "secrets", "review", "end"])
field_names = st.sampled_from(["first_name", "situation", "housing", "household",
                               "other_benefits", "reference", "password"])
answers = (st.sampled_from(["", "Ann", "Renting", "Owner", "Other", "yes", "no"])
           | st.lists(st.sampled_from(["Partner", "Children", "Parents"]), unique=True,
                      max_size=3)
           | st.text(max_size=100))
keys = st.sampled_from([TARGET, BOB])


@dataclass(frozen=True)
class Field:
    """One field's values. The explicit examples send each of `samples` (valid-looking;
    the first stands in whenever another field is being varied) and of `edges`
    (hostile: the field's limits, one past them, wrong kinds); the drawn ones take
    `valid`, or `edges`, any JSON value or a huge string."""

    samples: tuple
    valid: st.SearchStrategy
    edges: tuple

    def hostile(self) -> st.SearchStrategy:
        return st.sampled_from(self.edges) | json_values | huge_strings


FIELDS = {
    "last_seq": Field((0, 10**9, None), seqs | st.none(), (-1, 2**63, "1", True, 1.5, [1])),
    "active": Field((True, False), st.booleans(), ("yes", 1, None)),
    "client_id": Field(("c-1", "x" * 64), st.text(min_size=1, max_size=64),
                       ("", "x" * 65, 7, ["c-1"])),
    "text": Field(("hello", "x" * MAX_CHAT_CHARS, "<b>hi</b>"),
                  st.text(min_size=1, max_size=200),
                  ("", "   ", "x" * (MAX_CHAT_CHARS + 1), 12, {"text": "hi"}, "\u0000\u202e")),
    "typing": Field((True, False), st.booleans(), ("true", 0, None)),
    "screen": Field(("about", "household", "secrets", "review", "end"), screen_ids,
                    ("nowhere", "", "x" * 101, 3, ["about"])),
    "values": Field(({"first_name": "Ann"}, {}, {"housing": "Renting", "other_benefits": "yes",
                                                 "household": ["Partner", "Children"]}),
                    st.dictionaries(field_names | st.text(max_size=10), answers, max_size=4),
                    ({"password": "hunter2", "reference": "AB-1"}, {"housing": "Castle"},
                     {"first_name": ["not", "text"]}, {"x" * 200: 1}, ["first_name"], "Ann")),
    "name": Field(("first_name", "situation", "housing", "household", "other_benefits"),
                  field_names, ("password", "reference", "nowhere", "", "x" * 101, 1)),
    "value": Field(("Ann", "", "Renting", "yes", ["Children"]), answers,
                   ("Castle", ["Children", "Nobody"], {"a": 1}, "x" * 10_001, None, 3.5)),
    "conversation": Field((TARGET, BOB), keys, ("", "x" * 201, "someone-else", 5)),
    "after": Field((0, 2**63 - 1, None), seqs | st.none(), (-1, 2**63, "3", 1.5, False)),
    "available": Field((False, True), st.booleans(), ("no", 0, None)),
    "roles": Field((["advocate"], [], ["advocate", "Advocate"]),
                   st.lists(st.sampled_from(["advocate", "Advocate", "x"])
                            | st.text(min_size=1, max_size=20), max_size=5),
                   (["x" * 101], ["r"] * 101, [""], "advocate", [1], {"advocate": 1})),
    "phone": Field(("", "+12762410114"), st.sampled_from(["", "+12762410114", "+14155552671"])
                   | st.text(max_size=32), ("not a phone", "+1555", "x" * 33, 12_345, None)),
    "session": Field((TARGET, BOB), keys, ("", "x" * 201, "nobody|b:x", 1, [TARGET])),
    "on": Field((False, True), st.booleans(), ("on", 1, None)),
    "action": Field(("continue", "change:about", "change:household"),
                    st.sampled_from(["continue", "change:about", "change:household",
                                     "change:secrets"]),
                    ("change:nowhere", "", "x" * 201, 1, ["continue"])),
}
# The operator's `last_seq` maps conversations to seqs.
MONITOR_FIELDS = {**FIELDS, "last_seq": Field(
    ({TARGET: 0}, {}, {TARGET: None, BOB: 2**63 - 1}),
    st.dictionaries(keys, seqs | st.none(), max_size=3),
    ({TARGET: -1}, {TARGET: "1"}, [1], "x", 3))}


def messages(types: dict[str, tuple], fields: dict[str, Field]) -> st.SearchStrategy:
    """A message of one of `types`: every field valid-looking, or each field valid,
    hostile or missing (with stray fields of other types besides); or a message whose
    type is the other socket's, the server's, unknown or not a string."""
    def of_kind(kind: str) -> st.SearchStrategy:
        names = types[kind]
        valid = st.fixed_dictionaries({n: fields[n].valid for n in names})
        mixed = st.tuples(
            st.dictionaries(st.sampled_from(sorted(FIELDS)), json_values, max_size=2),
            st.fixed_dictionaries({}, optional={
                n: fields[n].valid | fields[n].hostile() for n in names}))
        return (valid | mixed.map(lambda parts: {**parts[0], **parts[1]})).map(
            lambda body: {"type": kind, **body})

    others = sorted(set(USER_TYPES) ^ set(MONITOR_TYPES)) + list(SERVER_TYPES)
    wrong_type = st.builds(
        lambda kind, body: {"type": kind, **body},
        st.sampled_from(others) | json_values,
        st.dictionaries(st.sampled_from(sorted(FIELDS)), json_values | huge_strings,
                        max_size=3))
    return st.one_of([of_kind(kind) for kind in sorted(types)] + [wrong_type])


def deep(kind: str, name: str, depth: int) -> str:
    return f'{{"type": "{kind}", "{name}": ' + "[" * depth + "]" * depth + "}"


def frames(types: dict[str, tuple], fields: dict[str, Field]) -> st.SearchStrategy:
    """(payload, binary): a JSON message two times in three; else raw text, deep
    nesting in any field, invalid UTF-8 (alone or inside a field) or a binary frame."""
    kind_and_field = st.sampled_from(sorted(
        (kind, name) for kind, names in types.items() for name in names or ("text",)))
    other_frames = st.one_of(
        st.text(max_size=200).map(lambda t: (t, False)),
        st.tuples(kind_and_field, st.integers(min_value=10, max_value=30_000)).map(
            lambda kd: (deep(*kd[0], kd[1]), False)),
        st.binary(min_size=1, max_size=50).map(lambda b: (b"\xff\xfe" + b, False)),
        kind_and_field.map(lambda kf: (
            f'{{"type": "{kf[0]}", "{kf[1]}": "'.encode() + b'\xff\xfe\xc3\x28"}', False)),
        st.binary(max_size=2000).map(lambda b: (b, True)),
    )
    json_frames = messages(types, fields).map(lambda m: (json.dumps(m), False))
    return st.sampled_from((other_frames, json_frames, json_frames)).flatmap(lambda kind: kind)


def batches(types: dict[str, tuple], fields: dict[str, Field]) -> st.SearchStrategy:
    return st.lists(frames(types, fields), min_size=1, max_size=BATCH)


def explicit(types: dict[str, tuple], fields: dict[str, Field]) -> list[list[tuple[str, bool]]]:
    """Batches run before the drawn ones: per type, every field at its first sample;
    then each field at each of its other samples and each of its edges, the other
    fields at their first sample; then no field at all. At most EXPLICIT_BATCH frames
    a batch, so that the server's bad-frame limit does not close the socket midway."""
    found = []
    for kind, names in sorted(types.items()):
        first = {n: fields[n].samples[0] for n in names}
        bodies = [first]
        for name in names:
            bodies += [{**first, name: value}
                       for value in fields[name].samples[1:] + fields[name].edges]
        bodies.append({})
        frames_ = [(json.dumps({"type": kind, **body}), False) for body in bodies]
        found += [frames_[i:i + EXPLICIT_BATCH] for i in range(0, len(frames_), EXPLICIT_BATCH)]
    return found


def with_examples(explicit_batches: list[list[tuple[str, bool]]]) -> Callable:
    def decorate(test: Callable) -> Callable:
        for batch in explicit_batches:
            test = example(batch=batch)(test)
        return test
    return decorate


class ErrorLog(logging.Handler):
    """Collects ERROR records: an uncaught exception in a handler is logged as one."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def fast(person: Person) -> Person:
    """No Nagle on the attacker's side: its frames go in bursts of small ones, each
    burst after the reply to the last (40 ms of delayed ACK per example otherwise)."""
    person.ws.protocol.set_nodelay(True)
    return person


class Scene:
    """An attacker's sockets beside a bystander chat (Bob with Olga) on another session.
    The attacker's page (Mallory) shows a screen of the co-browsing demo, and the
    attacker's Monitor controls it, so `field`, `set_field` and `press` reach real
    screens."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.sent = self.errors = self.closes = 0
        self.sentinels = self.bystander_messages = 0
        self.replies: Counter[str] = Counter()  # by type, and errors by code

    async def setup(self) -> None:
        server = self.server
        self.olga = await operator(server, "olga@example.com")
        self.bob_record = await live_session(server)
        self.bob = await interviewee(server, self.bob_record, browser="bob-browser")
        await self.bob.send(type="activate")
        await self.bob.until("state", lambda m: m["active"])
        self.target = SessionRecord(id=new_id(), interview=INTERVIEW, live_help={
            "availability": "available", "mode": "help", "partner_roles": ["advocate"]})
        await server.services.store.save_session(self.target)
        self.target_key = f"{self.target.id}|b:mallory-browser"
        self.bob_stranger_key = f"{self.bob_record.id}|b:elsewhere"  # never connected
        self.mallory_user = await self.open_user()
        self.shown = 0
        self.mallory_operator_user = await server.add_user("max@example.com", ("advocate",))
        self.mallory_operator = await self.open_operator()

    async def open_user(self) -> Person:
        return fast(await interviewee(self.server, self.target, browser="mallory-browser"))

    async def open_operator(self) -> Person:
        ws = await self.server.websocket("ws/monitor",
                                         await self.server.user_cookie(self.mallory_operator_user))
        person = Person(ws)
        await person.receive("monitor")
        return fast(person)

    async def attack(self, person: Person, batch: list[tuple[str | bytes, bool]],
                     reset: dict[str, Any]) -> bool:
        """Send the frames, a valid `reset` (it clears the bad-frame count; the Monitor's
        takes control again, so that the next frames find a screen to change), then a
        sentinel of an unknown type; True if the socket is still open. The sentinel's
        refusal comes after every reply to the frames before it, and every one of those
        must be a message with a type, or an error with its code and words."""
        self.sentinels += 1
        sentinel = f"zz_sentinel_{self.sentinels}"
        try:
            for payload, binary in batch:
                self.sent += 1
                await person.ws.write_message(payload, binary=binary)
            await person.ws.write_message(json.dumps(reset))
            await person.ws.write_message(json.dumps({"type": sentinel}))
        except tornado.websocket.WebSocketClosedError:  # the server closed it already
            return self.closed(person)
        while True:
            reply = await next_message(person.ws, timeout=REPLY_TIMEOUT)
            if reply is None:
                return self.closed(person)
            assert isinstance(reply.get("type"), str), reply
            self.replies[reply["type"]] += 1
            if reply["type"] == "error":
                assert isinstance(reply["code"], str) and isinstance(reply["message"], str)
                if reply.get("ref") == sentinel:
                    assert reply["code"] == "unknown_type", reply
                    return True
                self.errors += 1
                self.replies[f"error {reply['code']}"] += 1

    async def show_next_screen(self) -> None:
        """Every SHOW_EVERY examples, Mallory's page reports the next screen of the demo
        (each has other fields, choices and buttons); returns once the server has it,
        or has refused it for now (`screen` frames are rate-limited: the screen stays)."""
        self.shown += 1
        if self.shown % SHOW_EVERY:
            return
        screen = PAGE_SCREENS[self.shown // SHOW_EVERY % len(PAGE_SCREENS)]
        await self.mallory_user.send(type="screen", screen=screen, values={})
        await self.mallory_user.send(type="zz_shown")
        while (reply := await self.mallory_user.receive("error"))["ref"] != "zz_shown":
            # Errors of earlier frames may come first (held `field` values go out later).
            assert reply["ref"] != "screen" or reply["code"] == "rate_limited", reply

    def aimed(self, frame: tuple[str | bytes, bool]) -> tuple[str | bytes, bool]:
        """The frame with the placeholders "target" and "bob" replaced by the key of
        Mallory's page (in help mode also its conversation) and that of a browser of
        Bob's session that never connected."""
        payload, binary = frame
        if isinstance(payload, str):
            payload = payload.replace(json.dumps(TARGET), json.dumps(self.target_key))
            payload = payload.replace(json.dumps(BOB), json.dumps(self.bob_stranger_key))
        return payload, binary

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
def config(config: Config) -> Config:
    """The default test config, but Bob (the bystander) chats once per example, far
    faster than a person may: his chat rate limit (`limits: chat burst`, `chat per
    minute`) is lifted so that only a disturbance can stop his messages."""
    config.limits = msgspec.structs.replace(config.limits, chat_burst=100_000,
                                            chat_per_minute=6_000_000)
    return config


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
          f" {scene.closes} proper closes, {scene.bystander_messages} bystander messages acked;"
          f" replies: {dict(sorted(scene.replies.items()))}")


FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow])


def test_every_field_of_every_type_gets_each_of_its_values() -> None:
    """The explicit examples send every type with all its fields, and each field with
    each of its valid-looking and hostile values; and without any field."""
    for types, fields in ((USER_TYPES, FIELDS), (MONITOR_TYPES, MONITOR_FIELDS)):
        sent = [json.loads(payload) for batch in explicit(types, fields)
                for payload, _ in batch]
        for kind, names in types.items():
            of_kind = [m for m in sent if m["type"] == kind]
            assert {"type": kind} in of_kind, kind
            for name in names:
                assert fields[name].samples and fields[name].edges, name
                given_ = [json.dumps(m[name]) for m in of_kind if set(m) == {"type", *names}]
                wanted = fields[name].samples + fields[name].edges
                assert {json.dumps(v) for v in wanted} <= set(given_), (kind, name)


@FUZZ_SETTINGS
@given(batch=batches(USER_TYPES, FIELDS))
@with_examples(explicit(USER_TYPES, FIELDS))
async def test_interviewee_socket_survives_hostile_frames(scene: Scene, error_log: ErrorLog,
                                                          batch: list) -> None:
    await scene.show_next_screen()
    aimed = [scene.aimed(frame) for frame in batch]
    if not await scene.attack(scene.mallory_user, aimed, {"type": "deactivate"}):
        scene.mallory_user = await scene.open_user()
    await scene.bystander_chat()
    assert not error_log.records, [r.getMessage() for r in error_log.records]


@FUZZ_SETTINGS
@given(batch=batches(MONITOR_TYPES, MONITOR_FIELDS))
@with_examples(explicit(MONITOR_TYPES, MONITOR_FIELDS))
async def test_operator_socket_survives_hostile_frames(scene: Scene, error_log: ErrorLog,
                                                       batch: list) -> None:
    await scene.show_next_screen()
    reset = {"type": "control", "session": scene.target_key}
    if not await scene.attack(scene.mallory_operator, [scene.aimed(f) for f in batch], reset):
        scene.mallory_operator = await scene.open_operator()
    await scene.bystander_chat()
    assert not error_log.records, [r.getMessage() for r in error_log.records]


async def test_a_socket_without_the_session_cookie_is_refused(live_server: LiveServer) -> None:
    record = await live_session(live_server)
    other = await live_session(live_server)
    with pytest.raises(Exception) as refused:
        await live_server.websocket(f"ws/user/{record.id}", session_cookie(live_server, other))
    assert "403" in str(refused.value)
