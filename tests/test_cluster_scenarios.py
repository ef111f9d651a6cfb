"""The core scenarios with the interviewee and the operator on different processes of
a real cluster (tests/fixtures_cluster.py): the user's socket on process a (the
session's home), the operator's Monitor on process b. What b's operator does is run at
a (handlers/home_monitor.py); what a's session does reaches b over Redis."""

from __future__ import annotations

import redis.asyncio as redis

from state.store.base import SessionRecord, new_id
from state.store.mongo import MongoStore
from tests.fixtures_cluster import Cluster, Person


async def entry_at(monitor: Person, record: SessionRecord, predicate=lambda e: True) -> dict:
    """The next `session` event of `record`'s entry on `monitor` that satisfies `predicate`."""
    event = await monitor.until("session", lambda m: m["session"]["session"] == record.id
                                and predicate(m["session"]))
    return event["session"]


async def chatting(cluster: Cluster) -> tuple[Person, Person, dict]:
    """A user on a with chat on, its conversation assigned to the operator on b."""
    record = cluster.records[0]
    monitor = await cluster.monitor(cluster.b)
    user = await cluster.user(cluster.a, record)
    # a knows b's operator is available: the user's page says one stands by.
    await user.until("state", lambda m: m["operators"] == 1)
    await user.send(type="activate")
    await user.until("state", lambda m: m["active"] and m["operator_name"] == "Op0")
    entry = await entry_at(monitor, record, lambda e: e["operator_id"] == cluster.operator.id)
    return user, monitor, entry


async def stored_texts(cluster: Cluster, conversation: str) -> list[tuple[int, str]]:
    store = MongoStore(cluster.mongo_uri, cluster.database)
    await store.open()
    try:
        page = await store.get_messages(conversation, 0)
        return [(message.seq, message.text) for message in page]
    finally:
        await store.close()


async def test_help_chat_both_ways_with_the_operator_on_the_other_process(
        cluster: Cluster) -> None:
    user, monitor, entry = await chatting(cluster)
    await user.send(type="chat", client_id="u1", text="Hello from a")
    assert (await user.receive("ack"))["seq"] == 1
    seen = await monitor.until("chat", lambda m: m["text"] == "Hello from a")
    assert seen["conversation"] == entry["conversation"]

    await monitor.send(type="chat", session=entry["key"], client_id="o1", text="Hello from b")
    ack = await monitor.receive("ack")  # run at a, answered back to b's socket
    assert (ack["client_id"], ack["seq"]) == ("o1", 2)
    reply = await user.until("chat", lambda m: m["text"] == "Hello from b")
    assert reply["seq"] == 2
    assert await stored_texts(cluster, entry["conversation"]) == [
        (1, "Hello from a"), (2, "Hello from b")]


async def test_a_refusal_at_the_home_reaches_the_operator_on_the_other_process(
        cluster: Cluster) -> None:
    record = cluster.records[1]
    monitor = await cluster.monitor(cluster.b)
    await cluster.user(cluster.a, record)
    entry = await entry_at(monitor, record)
    await monitor.send(type="chat", session=entry["key"], client_id="o1", text="Anyone?")
    refusal = await monitor.receive("error")
    assert (refusal["code"], refusal["ref"]) == ("not_chatting", "o1")


async def test_a_block_on_either_process_is_seen_on_the_other(cluster: Cluster) -> None:
    record = cluster.records[0]
    at_b = await cluster.monitor(cluster.b)
    at_a = await cluster.monitor(cluster.a)
    user = await cluster.user(cluster.a, record)
    entry = await entry_at(at_b, record)

    await at_b.send(type="block", session=entry["key"])  # forwarded to a
    assert (await user.until("state", lambda m: m["blocked"]))["operators"] == 0
    await entry_at(at_a, record, lambda e: e["blocked"])
    await entry_at(at_b, record, lambda e: e["blocked"])

    await at_a.send(type="unblock", session=entry["key"])  # at home
    await entry_at(at_b, record, lambda e: not e["blocked"])
    await user.until("state", lambda m: not m["blocked"])


async def test_peer_chat_at_the_home_is_listed_on_the_other_process(cluster: Cluster) -> None:
    store = MongoStore(cluster.mongo_uri, cluster.database)
    await store.open()
    record = SessionRecord(id=new_id(), interview="peer", live_help={
        "availability": "available", "mode": "peer", "partner_roles": []})
    await store.save_session(record)
    await store.close()
    monitor = await cluster.monitor(cluster.b)
    first = await cluster.user(cluster.a, record, "browser-1")
    second = await cluster.user(cluster.a, record, "browser-2")
    await first.until("state", lambda m: m["peers"] == 1)
    for person in (first, second):
        await person.send(type="activate")
    await first.send(type="chat", client_id="p1", text="Hi neighbour")
    assert (await second.until("chat", lambda m: m["text"] == "Hi neighbour"))["seq"] == 1
    await second.send(type="chat", client_id="p2", text="Hi back")
    assert (await first.until("chat", lambda m: m["text"] == "Hi back"))["seq"] == 2
    entry = await entry_at(monitor, record, lambda e: len(e["participants"]) == 2)
    assert entry["mode"] == "peer"


async def cobrowsed(cluster: Cluster) -> tuple[Person, str]:
    """A user on a whose page shows the cobrowse demo's first screen; its entry key."""
    store = MongoStore(cluster.mongo_uri, cluster.database)
    await store.open()
    record = SessionRecord(id=new_id(), interview="cobrowse_demo", live_help={
        "availability": "available", "mode": "help", "partner_roles": ["advocate"]})
    await store.save_session(record)
    await store.close()
    user = await cluster.user(cluster.a, record)
    await user.send(type="screen", screen="about", values={"first_name": "Ann"})
    # The screen is rendered after a store read; frames are answered in order, so once
    # a frame of an unknown type sent after it is refused, the screen is in.
    await user.send(type="zz_sentinel")
    assert (await user.receive("error"))["ref"] == "zz_sentinel"
    return user, record


async def test_observe_and_control_from_the_other_process(cluster: Cluster) -> None:
    at_b = await cluster.monitor(cluster.b)
    user, record = await cobrowsed(cluster)
    entry = await entry_at(at_b, record)
    key = entry["key"]

    await at_b.send(type="observe", session=key)
    screen = await at_b.receive("observe_screen")
    assert (screen["screen"]["id"], screen["values"]) == ("about", {"first_name": "Ann"})
    await user.send(type="field", name="first_name", value="Anna")
    change = await at_b.receive("observe_field")  # the user's change, from a to b
    assert (change["name"], change["value"]) == ("first_name", "Anna")

    await at_b.send(type="control", session=key)
    await at_b.receive("observe_screen")
    await at_b.send(type="set_field", session=key, name="first_name", value="Bob")
    assert (await user.receive("set_field"))["value"] == "Bob"

    # One controller across the cluster: a socket on a is refused while b's holds it.
    at_a = await cluster.monitor(cluster.a)
    await at_a.send(type="control", session=key)
    assert (await at_a.receive("error"))["code"] == "controlled"

    # b's socket closes: its control ends at the home, and the user's page says so;
    # then a's socket may take it.
    await user.until("state", lambda m: m["controlled"])
    at_b.ws.close()
    await user.until("state", lambda m: not m["controlled"])
    await at_a.send(type="control", session=key)
    assert (await at_a.receive("observe_screen"))["session"] == key


async def test_the_roles_asked_for_are_those_of_every_process(cluster: Cluster) -> None:
    """The Monitor's role list (the settings line) names the roles of sessions on every
    process, whichever process says it."""
    at_b = await cluster.monitor(cluster.b)
    await cluster.user(cluster.a, cluster.records[0])  # asks for "advocate", at a
    await at_b.until("roles", lambda m: m["roles"] == ["advocate"])
    await at_b.send(type="set_status", available=False)  # b itself tells every page again
    assert (await at_b.receive("roles"))["roles"] == ["advocate"]


async def test_a_control_lock_ends_even_when_the_socket_closed_message_is_lost(
        cluster: Cluster) -> None:
    """b's Monitor socket closes while pub/sub carries nothing to a (Redis dropped every
    subscriber): its `monitor_closed` is lost, and b's next report of its operators (no
    Monitor socket of theirs left) ends the stand-in at a, and with it the control."""
    at_b = await cluster.monitor(cluster.b)
    user, record = await cobrowsed(cluster)
    key = (await entry_at(at_b, record))["key"]
    await at_b.send(type="control", session=key)
    await at_b.receive("observe_screen")
    await user.until("state", lambda m: m["controlled"])
    client = redis.Redis.from_url(cluster.redis.url)
    try:
        await client.client_kill_filter(_type="pubsub")  # every relay resubscribes later
    finally:
        await client.aclose()
    at_b.ws.close()
    await user.until("state", lambda m: not m["controlled"])
