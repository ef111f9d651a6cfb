"""Queue, close, transfer and messages left over real sockets (docs/protocol.md,
"Queue", "Closing and transfer", "Messages left")."""

from __future__ import annotations

from tests.socket_helpers import interviewee, live_session, operator
from tests.test_sockets import until_sentinel


async def test_a_message_left_is_listed_answered_and_handled(live_server):
    record = await live_session(live_server)
    user = await interviewee(live_server, record, browser="ann")
    await user.send(type="hello", last_seq=0)
    state = await user.receive("state")
    assert state["can_leave_message"] and not state["can_activate"]
    await user.send(type="leave_message", client_id="left-1", text="Please call me back",
                    contact="+12762410114")
    ack = await user.receive("ack")
    await user.send(type="leave_message", client_id="left-1", text="Please call me back",
                    contact="+12762410114")  # a resend after a reconnect: stored once
    assert (await user.receive("ack"))["seq"] == ack["seq"]

    olga = await operator(live_server, available=False)
    await olga.send(type="hello", last_seq={})
    listed = await olga.receive("messages_left")
    left, = listed["messages"]
    assert (left["text"], left["contact"], left["session"], left["conversation"]) == (
        "Please call me back", "+12762410114", record.id, ack["conversation"])

    await olga.send(type="reply_left", id=left["id"], client_id="r-1", text="Calling you now")
    assert (await olga.receive("ack"))["seq"] == ack["seq"] + 1
    reply = await user.receive("chat")
    assert (reply["text"], reply["role"]) == ("Calling you now", "operator")

    user.close()  # the user comes back later: the reply is in their conversation
    again = await interviewee(live_server, record, browser="ann")
    await again.send(type="hello", last_seq=0)
    texts = [m["text"] for m in await until_sentinel(again) if m["type"] == "chat"]
    assert texts == ["Please call me back", "Calling you now"]

    await olga.send(type="handle_left", id=left["id"])
    assert (await olga.receive("message_left_handled"))["id"] == left["id"]
    assert await live_server.services.store.list_left_messages() == []
    audit = await live_server.services.store.list_audit()
    assert (audit[0].action, audit[0].session_id) == ("message left handled", record.id)


async def test_a_message_left_needs_a_way_to_reach_that_reads_as_one(live_server):
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    for contact, words in (("call me maybe", "neither an email address nor a phone number"),
                           ("+1 276 241 0114", "without spaces")):
        await user.send(type="leave_message", client_id="x", text="hi", contact=contact)
        refused = await user.receive("error")
        assert refused["code"] == "bad_contact" and words in refused["message"]
    await user.send(type="leave_message", client_id="y", text="hi", contact="ann@example.org")
    assert (await user.receive("ack"))["client_id"] == "y"


async def test_no_message_is_left_while_an_operator_can_chat(live_server):
    record = await live_session(live_server)
    await operator(live_server)
    user = await interviewee(live_server, record)
    await user.send(type="leave_message", client_id="x", text="hi")
    assert (await user.until("error", lambda m: True))["code"] == "not_now"
    assert await live_server.services.store.list_left_messages() == []


async def test_close_and_transfer_are_for_the_holder_and_audited(live_server):
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    olga = await operator(live_server)
    await user.send(type="activate")
    entry = (await olga.until("session", lambda m: m["session"]["status"] == "on"))["session"]
    bob = await operator(live_server, "bob@example.com", first_name="Bob")
    await bob.send(type="close_chat", session=entry["key"])
    assert (await bob.until("error", lambda m: True))["code"] == "not_yours"

    await olga.send(type="list_operators", session=entry["key"])
    offered = await olga.receive("operators")
    assert [o["name"] for o in offered["operators"]] == ["Bob"]
    await olga.send(type="transfer", session=entry["key"], to=bob.user.id, note="Rent arrears")
    moved = await bob.until("session", lambda m: m["session"]["operator_id"] == bob.user.id)
    assert moved["session"]["transfer"] == {"from": "Olga", "note": "Rent arrears"}
    state = await user.until("state", lambda m: m["operator_name"] == "Bob")
    assert state["active"]
    assert all("Rent arrears" not in str(m) for m in await until_sentinel(user))

    await bob.send(type="close_chat", session=entry["key"])
    closed = await user.until("state", lambda m: not m["active"])
    assert closed["closed_by"] == "Bob"
    # A page that was away when it was closed says hello with chat on: it stays closed.
    await user.send(type="hello", last_seq=0, active=True)
    again = await user.until("state", lambda m: True)
    assert (again["active"], again["closed_by"]) == (False, "Bob")
    actions = [(a.action, a.actor_email) for a in await live_server.services.store.list_audit()]
    assert actions[:2] == [("close chat", "bob@example.com"), ("transfer", "op@example.com")]


async def test_the_queue_position_reaches_the_page(live_server):
    olga = await operator(live_server)
    await olga.send(type="set_capacity", capacity=1)
    await olga.until("monitor", lambda m: m["operator"]["capacity"] == 1)
    first, second = [await interviewee(live_server, await live_session(live_server))
                     for _ in range(2)]
    await first.send(type="activate")
    await first.until("state", lambda m: m["operator_name"] == "Olga")
    await second.send(type="activate")
    waiting = await second.until("state", lambda m: m["queue"] is not None)
    assert waiting["queue"] == {"position": 1, "estimate_seconds": None}
    await second.send(type="chat", client_id="w-1", text="I am waiting")
    assert (await second.receive("ack"))["client_id"] == "w-1"  # one may write while in line
    await first.send(type="deactivate")
    served = await second.until("state", lambda m: m["queue"] is None)
    assert served["operator_name"] == "Olga"
    await olga.send(type="set_capacity", capacity=99)
    refused = await olga.until("error", lambda m: True)
    assert refused["code"] == "bad_capacity"
