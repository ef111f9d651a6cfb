"""The WebSocket protocol over real sockets (docs/protocol.md)."""

from __future__ import annotations

import json

import pytest
import tornado.httpclient
import tornado.websocket

from tests.socket_helpers import (
    Person,
    chatting,
    interviewee,
    live_session,
    operator,
    session_cookie,
)

SENTINEL = "zz_sentinel"  # an unknown type: refused with an `error` whose ref is the type


async def until_sentinel(person: Person) -> list[dict]:
    """Everything the server sends `person` before refusing a sentinel frame sent now
    (empty: the refusal is the very next message). A socket's frames are handled in
    order and what is queued for it leaves in order, so whatever the server still had
    to send (a duplicate, a late replay) comes first."""
    await person.send(type=SENTINEL)
    received = []
    while (message := await person.receive())["type"] != "error" or message["ref"] != SENTINEL:
        received.append(message)
    return received


async def refused(coroutine) -> int:
    with pytest.raises(tornado.httpclient.HTTPClientError) as error:
        await coroutine
    return error.value.code


async def test_user_socket_needs_the_session_cookie(live_server):
    record = await live_session(live_server)
    assert await refused(live_server.websocket(f"ws/user/{record.id}")) == 403


async def test_user_socket_refused_when_live_help_is_off(live_server):
    record = await live_session(live_server, availability="unavailable")
    cookie = session_cookie(live_server, record)
    assert await refused(live_server.websocket(f"ws/user/{record.id}", cookie)) == 403


async def test_monitor_socket_refuses_anonymous_and_plain_users(live_server):
    assert await refused(live_server.websocket("ws/monitor")) == 403
    user = await live_server.add_user("ann@example.com")
    cookie = await live_server.user_cookie(user)
    assert await refused(live_server.websocket("ws/monitor", cookie)) == 403


async def test_monitor_socket_checks_the_origin(live_server):
    user = await live_server.add_user("op@example.com", ("advocate",))
    socket = live_server.websocket("ws/monitor", await live_server.user_cookie(user),
                                   origin="http://evil.example")
    assert await refused(socket) == 403


async def test_operator_becoming_available_is_pushed_to_the_user(live_server):
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    await operator(live_server)
    state = await user.until("state", lambda m: m["operators"] == 1)
    assert state["can_activate"] is True


async def test_chat_round_trip_with_acks(live_server):
    _, user, op, entry = await chatting(live_server)
    await user.until("state", lambda m: m["active"])
    await user.send(type="chat", client_id="u1", text="I need help")
    assert (await user.receive("ack"))["seq"] == 1
    message = await op.receive("chat")
    assert (message["text"], message["role"], message["seq"]) == ("I need help", "user", 1)
    await op.send(type="chat", session=entry["key"], client_id="o1", text="Hello!")
    assert (await op.receive("ack"))["seq"] == 2
    reply = await user.receive("chat")
    assert (reply["text"], reply["name"], reply["role"]) == ("Hello!", "Olga", "operator")


async def test_resent_message_is_stored_once(live_server):
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    op = await operator(live_server)
    await user.send(type="activate")
    await user.until("state", lambda m: m["active"])
    for _ in range(2):
        await user.send(type="chat", client_id="same", text="once")
        assert (await user.receive("ack"))["seq"] == 1
    await op.receive("chat")
    # Both acks are in, so a second delivery to the operator would be queued already.
    assert await until_sentinel(op) == []
    assert await live_server.services.store.count_messages() == 1


async def test_reconnecting_user_gets_what_it_missed_exactly_once(live_server):
    record, user, op, entry = await chatting(live_server, browser="ann")
    await user.send(type="chat", client_id="u1", text="first")
    await user.receive("ack")
    user.close()
    for number in range(2, 5):
        await op.send(type="chat", session=entry["key"], client_id=f"o{number}",
                      text=f"message {number}")
        await op.receive("ack")
    again = await interviewee(live_server, record, browser="ann")
    await again.send(type="hello", last_seq=1, active=True)
    await again.receive("state")
    seqs = [(await again.receive("chat"))["seq"] for _ in range(3)]
    assert seqs == [2, 3, 4]
    assert await until_sentinel(again) == []


async def test_operator_hello_replays_missed_messages(live_server):
    _, user, op, entry = await chatting(live_server)
    for number in range(1, 4):
        await user.send(type="chat", client_id=f"u{number}", text=f"m{number}")
        await user.receive("ack")
    conversation = entry["conversation"]
    await op.send(type="hello", last_seq={conversation: 1})
    await op.receive("monitor")
    assert [(await op.until("chat", lambda m: m["seq"] > 1))["seq"] for _ in range(2)] == [2, 3]


@pytest.mark.parametrize("frame, code", [
    ("not json", "bad_json"),
    ("[1, 2]", "bad_type"),
    ('{"type": "launch_missiles"}', "unknown_type"),
    ('{"type": "chat", "client_id": "x"}', "bad_field"),
    ('{"type": "chat", "client_id": "x", "text": "hi"}', "not_active"),
    ('{"type": "typing", "typing": "yes"}', "bad_field"),
    ('{"type": "hello", "last_seq": -3}', "bad_field"),
])
async def test_bad_user_frames_get_a_named_error(live_server, frame, code):
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    await user.ws.write_message(frame)
    error = await user.receive("error")
    assert error["code"] == code and error["message"]
    assert await live_server.services.store.count_messages() == 0


async def test_binary_frames_are_refused(live_server):
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    await user.ws.write_message(b"\x00\x01", binary=True)
    assert (await user.receive("error"))["code"] == "binary_frame"


async def test_help_chat_without_operator_is_refused(live_server):
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    await user.send(type="activate")
    assert (await user.receive("error"))["code"] == "no_operator"


async def test_oversized_frame_closes_only_that_socket(live_server):
    record = await live_session(live_server)
    other = await live_session(live_server)
    user = await interviewee(live_server, record)
    bystander = await interviewee(live_server, other)
    await user.ws.write_message(json.dumps({"type": "chat", "text": "x" * 200_000}))
    assert await user.ws.read_message() is None
    assert user.ws.close_code == 1009
    await bystander.send(type="hello", last_seq=0)
    assert (await bystander.receive("state"))["availability"] == "available"


async def test_a_flood_of_garbage_closes_the_socket(live_server):
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    for _ in range(20):
        await user.ws.write_message("garbage")
    while (await user.ws.read_message()) is not None:
        pass
    assert user.ws.close_code == 1008


async def test_refusals_by_the_rules_do_not_close_the_socket(live_server):
    """A page resending a backlog into "no operator" is answered each time, not closed."""
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    for _ in range(25):
        await user.send(type="activate")
        assert (await user.receive("error"))["code"] == "no_operator"
    await user.send(type="hello", last_seq=0)
    assert (await user.receive("state"))["availability"] == "available"


async def test_user_may_not_send_operator_messages(live_server):
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    await user.send(type="block", session="x")
    assert (await user.receive("error"))["code"] == "unknown_type"


async def test_block_is_persisted_and_audited(live_server):
    record, user, op, entry = await chatting(live_server)
    await op.send(type="block", session=entry["key"])
    state = await user.until("state", lambda m: m["blocked"])
    assert state["active"] is False and state["can_activate"] is False
    store = live_server.services.store
    assert (await store.get_session(record.id)).blocked
    assert (await store.list_audit())[0].action == "block"


async def test_closed_tab_shows_offline(live_server):
    """Offline comes from the server's periodic check (`offline seconds` after the last
    socket closed); how soon it shows is measured by bench/timings.py."""
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    op = await operator(live_server)
    user.close()
    await op.until("session", lambda m: m["session"]["status"] == "offline")


async def test_phone_number_needs_voice(live_server):
    op = await operator(live_server)
    await op.send(type="set_phone", phone="+12762410114")
    assert (await op.receive("error"))["code"] == "voice_off"


async def test_typing_reaches_the_operator(live_server):
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    op = await operator(live_server)
    await user.send(type="typing", typing=True)
    assert (await op.receive("typing"))["typing"] is True


async def test_operator_can_replay_one_conversation(live_server):
    _, user, op, entry = await chatting(live_server)
    for number in (1, 2):
        await user.send(type="chat", client_id=f"u{number}", text=f"m{number}")
        await user.receive("ack")
    await op.send(type="history", conversation=entry["conversation"], after=1)
    assert (await op.until("chat", lambda m: m["seq"] == 2))["text"] == "m2"


async def test_history_of_an_unlisted_conversation_is_refused(live_server):
    op = await operator(live_server)
    await op.send(type="history", conversation="someone-else", after=0)
    assert (await op.receive("error"))["code"] == "unknown_conversation"


async def test_state_tells_the_page_who_it_is(live_server):
    record = await live_session(live_server)
    user = await interviewee(live_server, record, browser="ann")
    await user.send(type="hello", last_seq=0)
    assert (await user.receive("state"))["participant"] == "b:ann"
