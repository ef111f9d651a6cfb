"""The Monitor's entries and what needs an answer (state/livehelp/entries.py,
attention.py; docs/protocol.md "Monitor entries" and "Unread"), without a server."""

from __future__ import annotations

import pytest

from state.livehelp.entries import visitor_label
from state.livehelp.errors import LiveHelpError
from tests.model_helpers import Inbox, live_record, make_model, make_user
from tests.test_livehelp_model import connect, operator


async def chatting(model, record=None, participant="b:browser1"):
    client, record = connect(model, record, participant)
    model.activate(client.key)
    return client, record


async def user_says(model, client, text, number=[0]):  # noqa: B006 (a counter across calls)
    number[0] += 1
    return await model.chat.user_chat(client.key, f"u-{number[0]}", text)


async def operator_says(model, user, client, text, number=[0]):  # noqa: B006
    number[0] += 1
    return await model.chat.operator_chat(user.id, client.key, f"o-{number[0]}", text)


def listed(model) -> dict[str, dict]:
    return {entry["id"]: entry for entry in model.listed_entries()}


async def test_a_help_entry_says_who_where_since_when_and_what_was_said_last(store):
    model, _ = make_model(store)
    await operator(model)
    client, record = await chatting(model)
    model.client_screen(client.key, "What is your income?")
    await user_says(model, client, "x" * 300)
    entry = listed(model)[client.key]
    assert entry["key"] == client.key and entry["email"] is None
    assert entry["user_label"] == visitor_label(client.key)
    assert entry["participants"] == [{"label": visitor_label(client.key), "status": "on"}]
    assert entry["screen"] == "What is your income?"
    assert entry["started"] == record.created.isoformat()
    last = entry["last_message"]
    assert last["role"] == "user" and len(last["text"]) == 140 and last["text"].endswith("…")
    assert (entry["last_seq"], entry["answered_seq"], entry["unanswered"]) == (1, 0, 1)
    assert entry["waiting_since"] == last["time"]


def test_visitor_labels_are_stable_short_and_tell_people_apart() -> None:
    keys = [f"session|b:browser{n}" for n in range(500)]
    labels = {visitor_label(key) for key in keys}
    assert visitor_label(keys[0]) == visitor_label(keys[0])
    assert all(len(label) == len("Visitor K7QX") for label in labels)
    assert len(labels) >= 499  # 20 bits: a clash among 500 people is rare, not impossible


async def test_a_named_user_is_labelled_by_name(store):
    model, _ = make_model(store)
    ann = make_user("ann@example.com", first="Ann", last="Lee")
    client, _ = connect(model, user=ann, participant=f"u:{ann.id}")
    entry = listed(model)[client.key]
    assert (entry["user_label"], entry["email"]) == ("Ann Lee", "ann@example.com")


async def test_any_operators_reply_answers_for_the_team(store):
    model, _ = make_model(store)
    olga = await operator(model)
    bob = await operator(model, "bob@example.com")
    client, _ = await chatting(model)
    await user_says(model, client, "one")
    await user_says(model, client, "two")
    assert listed(model)[client.key]["unanswered"] == 2
    helper = bob if model.find_client(client.key).operator_id == olga.id else olga
    await operator_says(model, helper, client, "answer")  # the one not assigned
    entry = listed(model)[client.key]
    assert (entry["last_seq"], entry["answered_seq"], entry["unanswered"]) == (3, 3, 0)
    assert entry["waiting_since"] is None
    await user_says(model, client, "three")
    assert listed(model)[client.key]["unanswered"] == 1


async def test_monitor_chat_events_carry_the_answered_seq(store):
    model, _ = make_model(store)
    olga = await operator(model)
    monitor, user_inbox = Inbox(), Inbox()
    model.hub.subscribe("monitor", monitor)
    client, _ = await chatting(model)
    model.hub.subscribe(f"client:{client.key}", user_inbox)
    await user_says(model, client, "hello")
    await operator_says(model, olga, client, "hi")
    assert [m["answered_seq"] for m in monitor.of_type("chat")] == [0, 2]
    assert all("answered_seq" not in m for m in user_inbox.of_type("chat"))


async def test_read_marks_are_per_operator_bounded_and_only_grow(store):
    model, _ = make_model(store)
    olga = await operator(model)
    bob = await operator(model, "bob@example.com")
    olgas_pages = Inbox()
    model.hub.subscribe(f"operator:{olga.id}", olgas_pages)
    client, _ = await chatting(model)
    for text in ("one", "two", "three"):
        await user_says(model, client, text)
    conversation = client.key
    model.operators.read(olga.id, conversation, 2)
    model.operators.read(olga.id, conversation, 1)  # an older tab's mark changes nothing
    model.operators.read(olga.id, conversation, 99)  # beyond the last message: up to it
    assert [m["seq"] for m in olgas_pages.of_type("read")] == [2, 2, 3]
    assert model.monitor_snapshot(olga.id)["read"] == {conversation: 3}
    assert model.monitor_snapshot(bob.id)["read"] == {}
    with pytest.raises(LiveHelpError) as refused:
        model.operators.read(olga.id, "not|listed", 1)
    assert refused.value.code == "unknown_conversation"


async def test_peerhelp_is_one_entry_for_the_whole_session(store):
    model, _ = make_model(store)
    await operator(model)
    monitor = Inbox()
    model.hub.subscribe("monitor", monitor)
    record = live_record(mode="peerhelp")
    first, _ = await chatting(model, record, "b:one")
    second, _ = connect(model, record, "b:two")
    entries = model.listed_entries()
    assert len(entries) == 1
    entry = entries[0]
    assert entry["id"] == record.id and entry["key"] == first.key  # the one in a chat
    assert entry["status"] == "on"
    assert sorted(p["label"] for p in entry["participants"]) == sorted(
        visitor_label(c.key) for c in (first, second))
    assert entry["user_label"] == " and ".join(p["label"] for p in entry["participants"])
    published = {m["session"]["id"] for m in monitor.of_type("session")}
    assert published == {record.id}


async def test_a_shared_entry_goes_when_its_last_person_does(store):
    model, clock = make_model(store, offline_seconds=5)
    record = live_record(mode="peer")
    first, _ = connect(model, record, "b:one")
    second, _ = connect(model, record, "b:two")
    monitor = Inbox()
    model.hub.subscribe("monitor", monitor)
    model.client_disconnected(first.key)
    clock.advance(700)
    model.mark_offline()
    assert monitor.of_type("session_gone") == []
    assert [p["label"] for p in listed(model)[record.id]["participants"]] == [
        visitor_label(second.key)]
    model.client_disconnected(second.key)
    clock.advance(700)
    model.mark_offline()
    assert monitor.of_type("session_gone") == [{"type": "session_gone", "id": record.id}]


async def test_a_change_to_a_shared_mode_replaces_the_entries(store):
    model, _ = make_model(store)
    record = live_record(mode="help")
    first, _ = connect(model, record, "b:one")
    second, _ = connect(model, record, "b:two")
    monitor = Inbox()
    model.hub.subscribe("monitor", monitor)
    record.live_help["mode"] = "peerhelp"
    model.apply_record(record, "Demo")
    gone = {m["id"] for m in monitor.of_type("session_gone")}
    assert gone == {first.key, second.key}
    assert list(listed(model)) == [record.id]


async def test_peer_messages_need_no_operator(store):
    model, _ = make_model(store)
    record = live_record(mode="peer")
    client, _ = await chatting(model, record, "b:one")
    await user_says(model, client, "hi all")
    entry = listed(model)[record.id]
    assert (entry["last_seq"], entry["answered_seq"], entry["unanswered"]) == (1, 1, 0)
    assert entry["last_message"]["text"] == "hi all"


async def test_after_a_restart_the_entry_knows_the_conversation_from_the_store(store):
    model, _ = make_model(store)
    olga = await operator(model)
    client, record = await chatting(model)
    await user_says(model, client, "one")
    await operator_says(model, olga, client, "answer")
    await user_says(model, client, "two")
    waited_from = listed(model)[client.key]["waiting_since"]
    await user_says(model, client, "three")

    restarted, _ = make_model(store)  # a new process: the same store, nothing in memory
    await restarted.chat.load_thread(client.key, operators_answer=True)
    again, _ = connect(restarted, record)
    entry = listed(restarted)[again.key]
    assert (entry["last_seq"], entry["answered_seq"], entry["unanswered"]) == (4, 2, 2)
    assert entry["last_message"]["text"] == "three"
    assert entry["waiting_since"] == waited_from


async def test_the_user_is_told_when_their_operator_is_away(store):
    model, _ = make_model(store, max_chat_chars=500)
    olga = await operator(model)
    client, _ = await chatting(model)
    state = model.user_state(client)
    assert (state["operator_name"], state["operator_available"], state["max_chars"]) == (
        "Op", True, 500)
    await model.operators.set_status(olga.id, False)
    state = model.user_state(client)
    assert (state["operator_name"], state["operator_available"]) == ("Op", False)


async def test_a_peer_message_updates_the_entry_not_the_monitors_chat(store):
    model, _ = make_model(store)
    record = live_record(mode="peer")
    client, _ = await chatting(model, record, "b:one")
    monitor = Inbox()
    model.hub.subscribe("monitor", monitor)
    await user_says(model, client, "hi all")
    assert monitor.of_type("chat") == []  # operators cannot answer it
    updated, = monitor.of_type("session")
    assert updated["session"]["last_message"]["text"] == "hi all"
