"""The live-help model's rules, without a server (PRODUCT.md M2–M12, C4–C10, I2)."""

from __future__ import annotations

import pytest

from state.livehelp.errors import LiveHelpError
from tests.model_helpers import Inbox, live_record, make_model, make_user


async def operator(model, email="op@example.com", roles=("advocate",), available=True):
    user = make_user(email, ("advocate",), first=email.split("@")[0].title())
    await model.operators.connected(user)
    await model.operators.set_roles(user.id, list(roles))
    await model.operators.set_status(user.id, available)
    return user


def connect(model, record=None, participant="b:browser1", user=None):
    record = record or live_record()
    return model.client_connected(record, "Demo", participant, user), record


async def test_status_is_waiting_without_operators(store):
    model, _ = make_model(store)
    client, _ = connect(model)
    assert model.status_of(client) == "waiting"


async def test_status_is_standby_when_a_matching_operator_is_available(store):
    model, _ = make_model(store)
    client, _ = connect(model)
    await operator(model)
    assert model.status_of(client) == "standby"


async def test_operator_with_other_roles_does_not_count(store):
    model, _ = make_model(store)
    client, _ = connect(model)
    await operator(model, roles=["tax law"])
    assert model.status_of(client) == "waiting"


async def test_roles_are_case_sensitive(store):
    model, _ = make_model(store)
    client, _ = connect(model)
    await operator(model, roles=["Advocate"])
    assert model.partners_available(client.session_id, ["advocate"]) == (0, 0)


async def test_roles_are_ored(store):
    model, _ = make_model(store)
    client, _ = connect(model, live_record(roles=("advocate", "family law")))
    await operator(model, roles=["family law"])
    assert model.status_of(client) == "standby"


async def test_activate_routes_to_the_operator_with_fewest_conversations(store):
    model, _ = make_model(store)
    busy = await operator(model, "busy@example.com")
    idle = await operator(model, "idle@example.com")
    first, _ = connect(model, participant="b:1")
    model.client(first.key).operator_id = None
    model.routing.assign(first, model.operator(busy.id))
    first.chat_active = True
    second, _ = connect(model, participant="b:2")
    model.activate(second.key)
    assert second.operator_id == idle.id
    assert model.status_of(second) == "on"


async def test_help_mode_cannot_activate_without_operator(store):
    model, _ = make_model(store)
    client, _ = connect(model)
    with pytest.raises(LiveHelpError) as error:
        model.activate(client.key)
    assert error.value.code == "no_operator"


@pytest.mark.parametrize("mode", ["peer", "peerhelp"])
async def test_peer_modes_can_always_activate(store, mode):
    model, _ = make_model(store)
    client, _ = connect(model, live_record(mode=mode))
    model.activate(client.key)
    assert client.chat_active


async def test_observeonly_is_off_and_cannot_chat(store):
    model, _ = make_model(store)
    await operator(model)
    client, _ = connect(model, live_record(availability="observeonly"))
    assert model.status_of(client) == "off"
    with pytest.raises(LiveHelpError):
        model.activate(client.key)


async def test_unavailable_sessions_are_not_listed(store):
    model, _ = make_model(store)
    user = await operator(model)
    connect(model, live_record(availability="unavailable"))
    visible, _ = connect(model, participant="b:2")
    keys = [e["key"] for e in model.monitor_snapshot(user.id)["sessions"]]
    assert keys == [visible.key]


async def test_operator_going_unavailable_keeps_ongoing_chat(store):
    model, _ = make_model(store)
    user = await operator(model)
    client, _ = connect(model)
    model.activate(client.key)
    await model.operators.set_status(user.id, False)
    assert client.chat_active and client.operator_id == user.id
    stored = await model.chat.user_chat(client.key, "c1", "still there?")
    assert stored.seq == 1


async def test_operator_going_unavailable_prevents_new_chats(store):
    model, _ = make_model(store)
    user = await operator(model)
    await model.operators.set_status(user.id, False)
    client, _ = connect(model)
    assert model.refusal_to_activate(client).code == "no_operator"


async def test_block_ends_chat_and_prevents_new_ones(store):
    model, _ = make_model(store)
    await operator(model)
    client, record = connect(model)
    await store.save_session(record)
    model.activate(client.key)
    await model.set_blocked(client.key, True)
    assert not client.chat_active
    assert model.status_of(client) == "off"
    with pytest.raises(LiveHelpError) as error:
        model.activate(client.key)
    assert error.value.code == "blocked"
    assert (await store.get_session(record.id)).blocked


async def test_unblock_allows_chat_again(store):
    model, _ = make_model(store)
    await operator(model)
    client, record = connect(model)
    await store.save_session(record)
    await model.set_blocked(client.key, True)
    await model.set_blocked(client.key, False)
    model.activate(client.key)
    assert client.chat_active


async def test_block_in_peer_mode_lets_peers_talk(store):
    model, _ = make_model(store)
    await operator(model)
    record = live_record(mode="peerhelp")
    await store.save_session(record)
    ann, _ = connect(model, record, "b:ann")
    connect(model, record, "b:bob")
    model.activate(ann.key)
    await model.set_blocked(ann.key, True)
    assert not model.routing.may_chat(ann)
    inbox = Inbox()
    model.hub.subscribe(f"session:{record.id}", inbox)
    await model.chat.user_chat(ann.key, "c1", "hi Bob")
    assert inbox.of_type("chat")[0]["text"] == "hi Bob"


async def test_operator_cannot_chat_with_inactive_user(store):
    model, _ = make_model(store)
    user = await operator(model)
    client, _ = connect(model)
    with pytest.raises(LiveHelpError):
        await model.chat.operator_chat(user.id, client.key, "c1", "hello")


async def test_chat_is_idempotent_by_client_id(store):
    model, _ = make_model(store)
    await operator(model)
    client, _ = connect(model)
    model.activate(client.key)
    monitor = Inbox()
    model.hub.subscribe("monitor", monitor)
    first = await model.chat.user_chat(client.key, "same", "hello")
    again = await model.chat.user_chat(client.key, "same", "hello")
    assert first.seq == again.seq == 1
    assert len(monitor.of_type("chat")) == 1


async def test_help_chat_reaches_the_user_and_operators_only(store):
    model, _ = make_model(store)
    user = await operator(model)
    record = live_record()
    ann, _ = connect(model, record, "b:ann")
    bob, _ = connect(model, record, "b:bob")
    model.activate(ann.key)
    ann_inbox, bob_inbox, monitor = Inbox(), Inbox(), Inbox()
    model.hub.subscribe(f"client:{ann.key}", ann_inbox)
    model.hub.subscribe(f"client:{bob.key}", bob_inbox)
    model.hub.subscribe("monitor", monitor)
    await model.chat.operator_chat(user.id, ann.key, "o1", "How can I help?")
    assert [m["text"] for m in ann_inbox.of_type("chat")] == ["How can I help?"]
    assert bob_inbox.of_type("chat") == []
    assert monitor.of_type("chat")[0]["role"] == "operator"


async def test_another_operator_can_take_over(store):
    model, _ = make_model(store)
    first = await operator(model, "a@example.com")
    second = await operator(model, "b@example.com")
    client, _ = connect(model)
    model.activate(client.key)
    model.operators.take(second.id if client.operator_id == first.id else first.id, client.key)
    assert client.key in model.operator(client.operator_id).conversations
    assert sum(len(model.operator(op.id).conversations) for op in (first, second)) == 1


async def test_closed_tab_goes_offline_after_the_configured_time(store):
    model, clock = make_model(store, offline_seconds=2.0)
    client, _ = connect(model)
    model.client_disconnected(client.key)
    clock.now += 1.0
    model.mark_offline()
    assert model.status_of(client) != "offline"
    clock.now += 1.5
    model.mark_offline()
    assert model.status_of(client) == "offline"


async def test_reconnect_brings_the_client_back_online(store):
    model, clock = make_model(store, offline_seconds=2.0)
    client, record = connect(model)
    model.client_disconnected(client.key)
    clock.now += 5
    model.mark_offline()
    again, _ = connect(model, record)
    assert again is client and model.status_of(client) != "offline"


async def test_offline_clients_are_forgotten_later(store):
    model, clock = make_model(store, offline_seconds=2.0)
    client, _ = connect(model)
    model.client_disconnected(client.key)
    clock.now += 3
    model.mark_offline()
    clock.now += 3600
    model.mark_offline()
    assert model.find_client(client.key) is None
    assert model.find_session(client.session_id) is None


async def test_vanished_operator_stops_counting(store):
    model, _ = make_model(store)
    user = await operator(model)
    client, _ = connect(model)
    model.operators.disconnected(user.id)
    assert model.status_of(client) == "waiting"


async def test_operator_settings_persist(store):
    model, _ = make_model(store)
    user = await operator(model, roles=["family law"])
    saved = await store.get_operator_settings(user.id)
    assert saved.available and saved.roles == ["family law"]


async def test_requested_roles_are_the_union_of_listed_sessions(store):
    model, _ = make_model(store)
    connect(model, live_record(roles=("advocate", "family law")), "b:1")
    connect(model, live_record(roles=("estates",)), "b:2")
    connect(model, live_record(availability="unavailable", roles=("secret",)), "b:3")
    assert model.requested_roles() == ["advocate", "estates", "family law"]
