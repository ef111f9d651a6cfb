"""Paged history and the limits on chat, typing, screen and field frames
(state/livehelp/limits.py, handlers/socket_limits.py, docs/protocol.md).

The limits' own tests use tests/clock.py's FakeClock; the socket tests run a live
server with small `limits:` and the model's clock replaced by a FakeClock, so no
bucket refills unless the test says so. Nothing waits on wall-clock time: a
sentinel frame (an unknown type, refused after everything sent before it) marks
the point by which anything else would have arrived.
"""

from __future__ import annotations

import pytest

from handlers.socket_limits import SocketLimits, close_limits
from state.config import LimitsFile
from state.livehelp.errors import LiveHelpError
from state.livehelp.limits import (
    FRAME_BURST,
    MAX_HELD_FIELDS,
    REPLAY_BURST,
    ConversationQuota,
    FrameLimits,
    RateLimited,
    SenderBuckets,
    TokenBucket,
)
from state.store.base import ChatMessage, SessionRecord, new_id
from tests.clock import FakeClock
from tests.conftest import LiveServer
from tests.model_helpers import live_record, make_model
from tests.socket_helpers import Person, chatting, interviewee, live_session, operator

SENTINEL = "zz_sentinel"  # an unknown type: refused with an `error` whose ref is the type
PAGE = 3  # history page of the socket tests
CHAT_BURST = 3
QUOTA = 10  # characters per conversation in the socket tests


# ------------------------------------------------------------------ the limits alone
def test_a_bucket_allows_its_burst_then_says_how_long_to_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(3, 2.0, clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)
    clock.advance(0.5)
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(0.5)


def test_a_bucket_refills_no_further_than_its_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, 1.0, clock)
    clock.advance(3600)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]


def test_each_sender_has_a_bucket_of_their_own() -> None:
    clock = FakeClock()
    senders = SenderBuckets(1, 1.0, clock)
    assert senders.take("b:ann") == 0.0
    assert senders.take("b:ann") > 0
    assert senders.take("u:olga") == 0.0


def test_full_sender_buckets_are_swept_out() -> None:
    clock = FakeClock()
    senders = SenderBuckets(1, 1.0, clock)
    for number in range(1024):
        senders.take(f"b:{number}")
    clock.advance(1.0)  # every bucket is full again
    senders.take("b:new")
    assert len(senders) == 1


def test_rate_limited_says_the_wait_in_words_and_in_seconds() -> None:
    refusal = RateLimited("Too many requests", 1.26)
    assert refusal.code == "rate_limited"
    assert refusal.message == "Too many requests; try again in 2 seconds."
    assert refusal.retry_after == 1.3
    assert RateLimited("Too many requests", 0.01).message.endswith("in 1 second.")


async def test_the_quota_counts_from_the_store_once_then_in_memory() -> None:
    queries = []

    async def stored(conversation: str) -> int:
        queries.append(conversation)
        return 6

    quota = ConversationQuota(10, stored)
    await quota.reserve("c", 3)
    with pytest.raises(LiveHelpError) as refused:
        await quota.reserve("c", 2)
    assert refused.value.code == "conversation_full"
    assert "This conversation is full" in refused.value.message
    quota.release("c", 3)  # not stored after all
    await quota.reserve("c", 4)
    assert queries == ["c"] and quota.total("c") == 10


async def test_the_quota_holds_across_a_restart(store) -> None:
    record = live_record(mode="peer")
    await store.save_session(record)
    limits = LimitsFile(conversation_characters=QUOTA)
    before, _ = make_model(store, limits=limits)
    client = before.client_connected(record, "Demo", "b:ann", None)
    before.activate(client.key)
    await before.chat.user_chat(client.key, "c1", "hello")
    restarted, _ = make_model(store, limits=limits)  # a new process: nothing in memory
    client = restarted.client_connected(record, "Demo", "b:ann", None)
    restarted.activate(client.key)
    with pytest.raises(LiveHelpError) as refused:  # 5 stored + 6 > 10
        await restarted.chat.user_chat(client.key, "c2", "world!")
    assert refused.value.code == "conversation_full"
    assert [m.text for m in await store.get_messages(record.id)] == ["hello"]


async def test_a_chat_over_the_rate_is_refused_and_not_stored(store) -> None:
    model, clock = make_model(store, limits=LimitsFile(chat_burst=2, chat_per_minute=60))
    record = live_record(mode="peer")
    client = model.client_connected(record, "Demo", "b:ann", None)
    model.activate(client.key)
    await model.chat.user_chat(client.key, "c1", "one")
    await model.chat.user_chat(client.key, "c2", "two")
    with pytest.raises(RateLimited) as refused:
        await model.chat.user_chat(client.key, "c3", "three")
    assert refused.value.retry_after == 1.0
    assert len(await store.get_messages(record.id)) == 2
    clock.advance(1.0)
    await model.chat.user_chat(client.key, "c3", "three")


async def test_history_gives_a_page_and_says_whether_more_remain(store) -> None:
    model, _ = make_model(store, limits=LimitsFile(history_page_messages=2))
    for number in range(4):
        await store.add_message(a_message("conv", f"m{number}"))
    first = await model.chat.history("conv", 0)
    assert [e["seq"] for e in first.events] == [1, 2] and first.more
    assert first.messages()[-1] == {"type": "history_more", "conversation": "conv", "after": 2}
    last = await model.chat.history("conv", 2)  # exactly a page left: nothing more after it
    assert [e["seq"] for e in last.events] == [3, 4] and not last.more
    assert last.messages() == last.events


def test_typing_over_the_limit_is_dropped_but_the_last_false_goes_through() -> None:
    clock = FakeClock()
    frames = FrameLimits(clock)
    assert all(frames.typing("k", True) for _ in range(FRAME_BURST))
    assert not frames.typing("k", True)
    assert frames.typing("k", False)  # ends the "typing" that got through
    assert not frames.typing("k", False)  # nothing left to end
    assert not frames.typing("other", False)
    clock.advance(1.0)
    assert frames.typing("k", True)


def test_field_values_over_the_limit_are_held_the_latest_per_field() -> None:
    clock = FakeClock()
    frames = FrameLimits(clock)
    assert all(frames.field("k", "a", n) == 0.0 for n in range(FRAME_BURST))
    assert frames.field("k", "a", "old") > 0
    assert frames.field("k", "b", "b1") > 0
    assert frames.field("k", "a", "new") > 0
    ready, wait = frames.due_fields()
    assert ready == [] and wait > 0
    clock.advance(1.0)
    assert frames.due_fields() == ([("k", "a", "new"), ("k", "b", "b1")], 0.0)


def test_too_many_held_fields_are_refused() -> None:
    frames = FrameLimits(FakeClock())
    for number in range(FRAME_BURST + MAX_HELD_FIELDS):
        frames.field("k", f"f{number}", "x")
    with pytest.raises(RateLimited):
        frames.field("k", "one more", "x")


# ------------------------------------------------------------------ over real sockets
@pytest.fixture
def small_limits(config):
    config.limits = LimitsFile(history_page_messages=PAGE, chat_burst=CHAT_BURST,
                               chat_per_minute=1, conversation_characters=QUOTA)
    return config


@pytest.fixture
async def server(small_limits, live_server: LiveServer) -> LiveServer:
    """The live server with small limits whose model's clock stands still."""
    live_server.services.livehelp.clock = FakeClock()
    return live_server


def a_message(conversation: str, text: str) -> ChatMessage:
    return ChatMessage(conversation=conversation, session_id="s", sender_key="b:x",
                       sender_role="user", text=text, client_id=new_id())


def conversation_of(server: LiveServer, record: SessionRecord) -> str:
    livehelp = server.services.livehelp
    key = next(iter(livehelp.find_session(record.id).clients))
    return livehelp.conversation_of(livehelp.client(key))


async def until_sentinel(person: Person) -> list[dict]:
    """Everything the server sends `person` before refusing a sentinel frame sent now."""
    await person.send(type=SENTINEL)
    received = []
    while (message := await person.receive())["type"] != "error" or message["ref"] != SENTINEL:
        received.append(message)
    return received


async def test_history_comes_in_pages_to_the_end_nothing_lost_or_twice(server) -> None:
    record = await live_session(server)
    user = await interviewee(server, record)
    conversation = conversation_of(server, record)
    for number in range(1, 8):
        await server.services.store.add_message(a_message(conversation, f"m{number}"))
    op = await operator(server)

    for person, hello in ((user, {"last_seq": 0}), (op, {"last_seq": {conversation: 0}})):
        await person.send(type="hello", **hello)
        seqs = []
        while True:
            replies = await until_sentinel(person)
            page = [m for m in replies if m["type"] in ("chat", "history_more")]
            chats = [m["seq"] for m in page if m["type"] == "chat"]
            assert len(chats) <= PAGE
            seqs += chats
            more = [m for m in page if m["type"] == "history_more"]
            if not more:
                break
            assert more == [{"type": "history_more", "conversation": conversation,
                             "after": chats[-1]}] and page[-1] == more[0]
            await person.send(type="history", conversation=conversation,
                              after=more[0]["after"])
        assert seqs == list(range(1, 8))


async def test_the_user_may_ask_only_for_its_own_conversation(server) -> None:
    record = await live_session(server)
    other = await live_session(server)
    user = await interviewee(server, record)
    await interviewee(server, other)
    await user.send(type="history", conversation=conversation_of(server, other), after=0)
    refused = await user.receive("error")
    assert refused["code"] == "unknown_conversation" and refused["ref"] == "history"


async def test_a_history_flood_is_refused_with_the_time_to_wait(server) -> None:
    record = await live_session(server)
    user = await interviewee(server, record)
    conversation = conversation_of(server, record)
    for _ in range(REPLAY_BURST):
        await user.send(type="history", conversation=conversation, after=0)
    assert [m for m in await until_sentinel(user) if m["type"] == "error"] == []
    await user.send(type="history", conversation=conversation, after=0)
    refused = await user.receive("error")
    assert refused["code"] == "rate_limited" and refused["ref"] == "history"
    assert refused["retry_after"] == 0.2  # 5 a second
    assert refused["message"] == "Too many requests; try again in 1 second."


async def test_chat_over_the_burst_is_refused_and_nothing_stored(server) -> None:
    record, user, _, _ = await chatting(server)
    for number in range(CHAT_BURST + 1):
        await user.send(type="chat", client_id=f"c{number}", text="x")
    for number in range(CHAT_BURST):
        assert (await user.receive("ack"))["client_id"] == f"c{number}"
    refused = await user.receive("error")
    assert refused["code"] == "rate_limited" and refused["ref"] == f"c{CHAT_BURST}"
    assert refused["retry_after"] == 60.0  # chat per minute: 1
    assert "try again in 60 seconds" in refused["message"]
    stored = await server.services.store.get_messages(conversation_of(server, record))
    assert [m.client_id for m in stored] == [f"c{n}" for n in range(CHAT_BURST)]


async def test_a_full_conversation_refuses_more_text(server) -> None:
    record, user, _, _ = await chatting(server)
    for client_id, text in (("c1", "hello"), ("c2", "world"), ("c3", "!")):
        await user.send(type="chat", client_id=client_id, text=text)
    await user.until("ack", lambda m: m["client_id"] == "c2")
    refused = await user.receive("error")
    assert refused["code"] == "conversation_full" and refused["ref"] == "c3"
    stored = await server.services.store.get_messages(conversation_of(server, record))
    assert [m.text for m in stored] == ["hello", "world"]


async def test_typing_is_coalesced_but_the_final_false_arrives(server) -> None:
    _, user, op, _ = await chatting(server)
    for _ in range(FRAME_BURST + 20):
        await user.send(type="typing", typing=True)
    await user.send(type="typing", typing=False)
    await user.send(type="chat", client_id="after", text="ok")  # reaches op after all typing
    states = []
    while (message := await op.receive())["type"] != "chat":
        if message["type"] == "typing":
            states.append(message["typing"])
    assert states == [True] * FRAME_BURST + [False]


async def test_screens_over_the_limit_are_refused(server) -> None:
    user = await interviewee(server, await cobrowse_session(server))
    for _ in range(FRAME_BURST):
        await user.send(type="screen", screen="about", values={})
    assert [m for m in await until_sentinel(user) if m["type"] == "error"] == []
    await user.send(type="screen", screen="about", values={})
    refused = await user.receive("error")
    assert refused["code"] == "rate_limited" and refused["ref"] == "screen"
    assert refused["retry_after"] == 0.1  # 20 a second


async def test_fields_over_the_limit_are_coalesced_to_the_latest_value(server) -> None:
    user = await interviewee(server, await cobrowse_session(server))
    await user.send(type="screen", screen="about", values={})  # takes one frame token
    await until_sentinel(user)
    key = next(iter(server.services.cobrowse.screens))
    op = await operator(server)
    await op.send(type="observe", session=key)
    await op.receive("observe_screen")
    values = [f"v{number}" for number in range(1, 61)]
    for value in values:
        await user.send(type="field", name="first_name", value=value)
    await until_sentinel(user)  # every field frame is in: the first 39 went, one is held
    server.services.livehelp.clock.advance(1.0)
    seen = []
    while not seen or seen[-1] != values[-1]:
        seen.append((await op.receive("observe_field"))["value"])
    assert seen == values[:FRAME_BURST - 1] + [values[-1]]
    assert server.services.cobrowse.screens[key].values == {"first_name": values[-1]}


async def test_a_closed_socket_delivers_no_held_field() -> None:
    clock = FakeClock()
    socket = type("Socket", (), {})()
    socket._socket_limits = limits = SocketLimits(clock)
    delivered = []
    for number in range(FRAME_BURST + 1):
        limits.field("k", "a", number, lambda *args: delivered.append(args), print)
    timer = limits._timer
    assert timer is not None and len(delivered) == FRAME_BURST
    close_limits(socket)
    assert timer.cancelled()
    clock.advance(1.0)
    assert limits.frames.due_fields() == ([], 0.0)


async def cobrowse_session(server: LiveServer) -> SessionRecord:
    record = SessionRecord(id=new_id(), interview="cobrowse_demo", live_help={
        "availability": "available", "mode": "help", "partner_roles": ["advocate"]})
    await server.services.store.save_session(record)
    return record
