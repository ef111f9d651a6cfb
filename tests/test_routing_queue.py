"""Capacity, the fair queue, the wait estimate, closing and transfer (routing.py,
handover.py; docs/protocol.md "Queue"), on the model with an injected clock."""

from __future__ import annotations

import pytest

from state.config import RoutingFile
from state.livehelp.errors import LiveHelpError
from tests.model_helpers import Inbox, live_record, make_model
from tests.test_livehelp_model import operator


def routed(store, **routing):
    return make_model(store, routing=RoutingFile(**routing))


def user(model, roles=("advocate",), participant="b:browser"):
    record = live_record(roles=roles)
    return model.client_connected(record, "Demo", participant, None)


def activate(model, roles=("advocate",)):
    client = user(model, roles)
    model.activate(client.key)
    return client


async def test_an_operator_at_capacity_gets_no_new_conversation(store):
    model, _ = routed(store, capacity=2)
    olga = await operator(model)
    first, second, third = (activate(model) for _ in range(3))
    assert [c.operator_id for c in (first, second, third)] == [olga.id, olga.id, None]
    assert model.user_state(third)["queue"] == {"position": 1, "estimate_seconds": None}
    assert model.entry(third)["queued_since"] is not None
    model.deactivate(first.key)  # a place frees: the first in line gets it at once
    assert third.operator_id == olga.id and model.user_state(third)["queue"] is None


async def test_the_queue_is_served_oldest_first_per_role_set(store):
    model, _ = routed(store, capacity=1)
    olga = await operator(model, roles=("advocate", "tax"))
    held = activate(model)
    tax = activate(model, roles=("tax",))
    advocates = [activate(model) for _ in range(3)]
    assert [model.routing.position(c) for c in (tax, *advocates)] == [1, 1, 2, 3]
    model.deactivate(held.key)
    assert tax.operator_id == olga.id  # the oldest waiting whose roles Olga serves
    model.deactivate(tax.key)
    assert [c.operator_id for c in advocates] == [olga.id, None, None]
    assert [model.routing.position(c) for c in advocates[1:]] == [1, 2]


async def test_an_operator_serving_other_roles_does_not_take_from_the_line(store):
    model, _ = routed(store, capacity=1)
    await operator(model)
    activate(model)
    waiting = activate(model)
    bob = await operator(model, "bob@example.com", roles=("tax",))
    assert waiting.operator_id is None and bob.id not in {waiting.operator_id}
    carol = await operator(model, "carol@example.com")
    assert waiting.operator_id == carol.id  # a matching operator came: served at once


async def test_ties_go_to_fewest_conversations_then_longest_since_last_assignment(store):
    model, clock = routed(store, capacity=4)
    olga = await operator(model)
    bob = await operator(model, "bob@example.com")
    first = activate(model)
    clock.advance(1)
    second = activate(model)
    assert {first.operator_id, second.operator_id} == {olga.id, bob.id}
    later = bob if second.operator_id == bob.id else olga
    earlier = olga if later is bob else bob
    model.deactivate(first.key)
    model.deactivate(second.key)  # both at 0 again: the one assigned longer ago goes next
    assert activate(model).operator_id == earlier.id
    assert activate(model).operator_id == later.id  # fewest conversations first


async def test_an_own_capacity_within_the_ceiling(store):
    model, _ = routed(store, capacity=1, max_capacity=3)
    olga = await operator(model)
    first, second = activate(model), activate(model)
    assert second.operator_id is None
    await model.operators.set_capacity(olga.id, 2)
    assert second.operator_id == olga.id
    assert (await store.get_operator_settings(olga.id)).capacity == 2
    with pytest.raises(LiveHelpError) as refused:
        await model.operators.set_capacity(olga.id, 4)
    assert refused.value.code == "bad_capacity" and "1 to 3" in refused.value.message
    assert model.monitor_snapshot(olga.id)["operator"]["capacity"] == 2
    assert first.operator_id == olga.id


async def test_the_estimate_is_the_mean_time_between_departures_times_the_place(store):
    model, clock = routed(store, capacity=1, estimate_samples=3)
    olga = await operator(model)
    held = activate(model)
    line = [activate(model) for _ in range(5)]
    assert model.user_state(line[0])["queue"]["estimate_seconds"] is None  # no history
    for gap in (60, 30, 90):  # the departures: after 60 s, 30 s, 90 s
        clock.advance(gap)
        model.deactivate(next(c for c in [held, *line] if c.operator_id == olga.id).key)
    # The 3 departures from the line (at 60, 90 and 180 s) were 60 s apart on average.
    waiting = [c for c in line if model.routing.queued(c)]
    assert [model.user_state(c)["queue"] for c in waiting] == [
        {"position": 1, "estimate_seconds": 60}, {"position": 2, "estimate_seconds": 120}]


async def test_positions_are_told_when_they_move_and_only_then(store):
    model, _ = routed(store, capacity=1)
    await operator(model)
    held = activate(model)
    first, second = activate(model), activate(model)
    inbox = Inbox()
    model.hub.subscribe(f"client:{second.key}", inbox)
    model.user_view.tell_places()  # nothing moved
    assert inbox.of_type("state") == []
    model.deactivate(held.key)
    assert first.operator_id is not None  # at once
    model.user_view.tell_places()
    model.user_view.tell_places()  # told once
    assert [m["queue"] for m in inbox.of_type("state")] == [{"position": 1,
                                                             "estimate_seconds": None}]


async def test_going_offline_past_the_grace_frees_the_place(store):
    model, clock = routed(store, capacity=1, grace_seconds=30)
    olga = await operator(model)
    gone, waiting = activate(model), activate(model)
    model.client_disconnected(gone.key)
    clock.advance(10)
    model.mark_offline()
    assert gone.operator_id == olga.id  # offline, but within the grace: still held
    clock.advance(25)
    model.mark_offline()
    assert gone.operator_id is None and not gone.chat_active
    assert waiting.operator_id == olga.id


async def test_closing_tells_the_user_and_frees_the_place(store):
    model, _ = routed(store, capacity=1)
    olga = await operator(model)
    bob = await operator(model, "bob@example.com", available=False)
    held, waiting = activate(model), activate(model)
    with pytest.raises(LiveHelpError) as refused:
        await model.handover.close(bob.id, held.key)
    assert refused.value.code == "not_yours"
    await model.handover.close(olga.id, held.key)
    state = model.user_state(held)
    assert (state["active"], state["closed_by"]) == (False, "Op")
    assert waiting.operator_id == olga.id
    model.activate(held.key)  # the user may start again: in line now
    assert model.user_state(held)["closed_by"] is None
    assert model.routing.position(held) == 1


async def test_an_admin_may_close_any_conversation(store):
    model, _ = routed(store)
    await operator(model)
    admin = await operator(model, "admin@example.com", available=False)
    held = activate(model)
    await model.handover.close(admin.id, held.key, may_any=True)
    assert not held.chat_active


async def test_transfer_to_a_colleague_carries_the_note(store):
    model, _ = routed(store, capacity=1)
    olga = await operator(model)
    held = activate(model)
    bob = await operator(model, "bob@example.com")
    tax = await operator(model, "tax@example.com", roles=("tax",))
    for to, code in ((tax.id, "not_serving"), ("nobody", "not_available")):
        with pytest.raises(LiveHelpError) as refused:
            await model.handover.transfer(olga.id, held.key, to)
        assert refused.value.code == code
    with pytest.raises(LiveHelpError) as refused:
        await model.handover.transfer(bob.id, held.key, olga.id)
    assert refused.value.code == "not_yours"
    await model.handover.transfer(olga.id, held.key, bob.id, "Asked about rent arrears")
    assert held.operator_id == bob.id
    assert model.entry(held)["transfer"] == {"from": "Op", "note": "Asked about rent arrears"}
    assert model.user_state(held)["operator_name"] == "Bob"
    second = activate(model)
    assert second.operator_id == olga.id  # Olga's place was freed by the transfer
    third = activate(model)
    with pytest.raises(LiveHelpError) as refused:
        await model.handover.transfer(olga.id, second.key, bob.id)
    assert refused.value.code == "no_place"
    assert third.operator_id is None


async def test_transfer_back_to_the_queue_goes_to_the_head_of_the_line(store):
    model, _ = routed(store, capacity=1)
    olga = await operator(model)
    held, waiting = activate(model), activate(model)
    await model.operators.set_status(olga.id, False)
    await model.handover.transfer(olga.id, held.key, None, "Needs a tax adviser")
    assert held.operator_id is None
    assert [model.routing.position(c) for c in (held, waiting)] == [1, 2]
    assert model.entry(held)["queued_since"] < model.entry(waiting)["queued_since"]
    await model.operators.set_status(olga.id, True)
    # Olga handed it back: the next in line gets her place, it waits for someone else.
    assert held.operator_id is None and waiting.operator_id == olga.id
    bob = await operator(model, "bob@example.com")
    assert held.operator_id == bob.id


async def test_places_are_told_a_batch_at_a_time_from_the_head_of_the_line(store):
    model, _ = routed(store, capacity=1)
    await operator(model)
    held = activate(model)
    line = [activate(model) for _ in range(3)]
    inboxes = [Inbox() for _ in line]
    for client, inbox in zip(line, inboxes, strict=True):
        model.hub.subscribe(f"client:{client.key}", inbox)
    model.deactivate(held.key)  # line[0] is served; line[1] and line[2] move up
    model.user_view.tell_places(most=1)
    assert [len(inbox.of_type("state")) for inbox in inboxes] == [1, 1, 0]  # served; head
    model.user_view.tell_places(most=1)
    assert [len(inbox.of_type("state")) for inbox in inboxes] == [1, 1, 1]
    assert inboxes[2].of_type("state")[0]["queue"]["position"] == 2


async def test_a_transfer_and_a_close_survive_a_restart(store):
    model, _ = routed(store, capacity=4)
    olga = await operator(model)
    bob = await operator(model, "bob@example.com")
    carol = await operator(model, "carol@example.com")
    records = [live_record(), live_record()]
    moved, closed = (model.client_connected(r, "Demo", "b:browser", None) for r in records)
    for client in (moved, closed):
        model.activate(client.key)
    sender = model.find_operator(moved.operator_id).name
    await model.handover.transfer(moved.operator_id, moved.key, bob.id
                                  if moved.operator_id != bob.id else carol.id, "Rent arrears")
    taker = moved.operator_id
    await model.handover.close(closed.operator_id, closed.key)

    restarted, _ = routed(store, capacity=4)  # the same store, nothing in memory
    for user in (olga, bob, carol):  # the Monitors come back first, in another order
        await restarted.operators.connected(user)
    again = [restarted.client_connected(r, "Demo", "b:browser", None) for r in records]
    for client in again:
        await restarted.handover.restore(client)
    restarted.activate(again[0].key)
    assert again[0].operator_id == taker
    assert restarted.entry(again[0])["transfer"] == {"from": sender, "note": "Rent arrears"}
    assert restarted.user_state(again[1])["closed_by"] is not None


async def test_restoring_reads_the_store_only_for_a_conversation_with_messages(store):
    model, _ = routed(store)
    fresh = model.client_connected(live_record(), "Demo", "b:fresh", None)
    await model.chat.load_thread(fresh.key, operators_answer=True)  # known: no message
    talked = model.client_connected(live_record(), "Demo", "b:talked", None)
    await store.close()  # the database goes away
    await model.handover.restore(fresh)  # nothing to read: no store needed
    assert fresh.restored
    await model.handover.restore(talked)  # unknown: the read fails, the page still opens
    assert not talked.restored  # and is tried again when it next connects
