"""What the Monitor's console needs, over real sockets (docs/protocol.md, "Operator
socket", "Unread"): read marks shared by one operator's pages only, the screen a page
reports, a hello that replays only what the page holds."""

from __future__ import annotations

from tests.socket_helpers import Person, chatting, operator
from tests.test_sockets import until_sentinel


async def another_tab(server, person: Person) -> Person:
    """One more Monitor page of the same operator."""
    tab = Person(await server.websocket("ws/monitor", await server.user_cookie(person.user)))
    await tab.receive("monitor")
    return tab


async def test_a_read_mark_reaches_every_page_of_that_operator_and_no_other(live_server):
    _, user, olga, entry = await chatting(live_server)
    for number in (1, 2):
        await user.send(type="chat", client_id=f"u{number}", text=f"m{number}")
        await user.receive("ack")
    conversation = entry["conversation"]
    olgas_other_tab = await another_tab(live_server, olga)
    bob = await operator(live_server, "bob@example.com", available=False)
    await olga.send(type="read", conversation=conversation, seq=2)
    assert (await olga.receive("read")) == {"type": "read", "conversation": conversation,
                                            "seq": 2}
    assert (await olgas_other_tab.receive("read"))["seq"] == 2
    assert [m for m in await until_sentinel(bob) if m["type"] == "read"] == []
    # A reload (a new socket) starts from the server's marks.
    again = await another_tab(live_server, olga)
    await again.send(type="hello", last_seq={})
    snapshot = await again.receive("monitor")
    assert snapshot["read"] == {conversation: 2}
    mine = next(e for e in snapshot["sessions"] if e["conversation"] == conversation)
    assert (mine["last_seq"], mine["answered_seq"]) == (2, 0)


async def test_the_entry_shows_the_question_the_page_reports(live_server):
    _, user, op, _ = await chatting(live_server)
    await user.send(type="hello", last_seq=0, active=True, screen="Do you pay rent?")
    changed = await op.until("session", lambda m: m["session"]["screen"] is not None)
    assert changed["session"]["screen"] == "Do you pay rent?"
    await user.send(type="hello", last_seq=0, active=True, screen="x" * 201)
    refused = await user.receive("error")
    assert refused["code"] == "bad_field"


async def test_hello_replays_only_the_conversations_the_page_holds(live_server):
    _, user, op, entry = await chatting(live_server)
    await user.send(type="chat", client_id="u1", text="m1")
    await user.receive("ack")
    await op.send(type="hello", last_seq={})
    await op.receive("monitor")
    assert [m for m in await until_sentinel(op) if m["type"] == "chat"
            and m["seq"] == 1 and "answered_seq" not in m] == []
    await op.send(type="hello", last_seq={entry["conversation"]: 0})
    await op.receive("monitor")
    replayed = [m["seq"] for m in await until_sentinel(op) if m["type"] == "chat"]
    assert replayed == [1]
