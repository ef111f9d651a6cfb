"""Faults of a real cluster (tests/fixtures_cluster.py): the process holding a user's
socket is killed mid-chat; Redis is restarted mid-chat. The interviewee speaks the
protocol as its page does: it reconnects through nginx, says `hello` with the last seq
it has, and sends again what was not acknowledged (the same `client_id`)."""

from __future__ import annotations

import signal

from bench.common import LiveHelpProcess, connect
from tests.cluster_processes import metrics
from tests.fixtures_cluster import Cluster, Person, until_figure
from tests.test_cluster_scenarios import entry_at, stored_texts

MESSAGES = 20
KILLED_AFTER = 10  # acknowledged messages before the kill; the next is in flight


async def user_through_nginx(cluster: Cluster, record, last_seq: int = 0,
                             active: bool = False) -> Person:
    person = Person(await connect(
        f"ws://127.0.0.1:{cluster.nginx.port}/ws/user/{record.id}",
        cluster.a.session_cookie(record, "browser-1"), port=cluster.nginx.port))
    person.first = await person.receive("state")
    cluster.people.append(person)
    if last_seq or active:
        await person.send(type="hello", last_seq=last_seq, active=active)
    return person


async def home_of_socket(cluster: Cluster) -> tuple[LiveHelpProcess, LiveHelpProcess]:
    """(the process holding the one interviewee socket, the other)."""
    a_clients = (await metrics(cluster.a.port)).get("livehelp_clients")
    return (cluster.a, cluster.b) if a_clients == 1 else (cluster.b, cluster.a)


async def send_acked(user: Person, number: int) -> int:
    await user.send(type="chat", client_id=f"m{number}", text=f"message {number}")
    ack = await user.until("ack", lambda m: m["client_id"] == f"m{number}")
    return ack["seq"]


async def test_the_home_killed_mid_chat_loses_and_doubles_nothing(cluster: Cluster) -> None:
    record = cluster.records[0]
    user = await user_through_nginx(cluster, record)
    home, other = await home_of_socket(cluster)
    monitor = await cluster.monitor(other)
    await user.until("state", lambda m: m["operators"] == 1)
    await user.send(type="activate")
    await user.until("state", lambda m: m["active"] and m["operator_name"] == "Op0")
    last_seq = 0
    for number in range(1, KILLED_AFTER + 1):
        last_seq = await send_acked(user, number)
    in_flight = KILLED_AFTER + 1
    await user.send(type="chat", client_id=f"m{in_flight}", text=f"message {in_flight}")
    home.stop(signal.SIGKILL)

    # The Monitor on the surviving process shows the session offline, then back.
    await entry_at(monitor, record, lambda e: e["status"] == "offline")
    user = await user_through_nginx(cluster, record, last_seq, active=True)
    await entry_at(monitor, record, lambda e: e["status"] != "offline")
    for number in range(in_flight, MESSAGES + 1):  # the unacknowledged one again, the rest
        await send_acked(user, number)

    entry = await entry_at(monitor, record)
    texts = await stored_texts(cluster, entry["conversation"])
    assert texts == [(n, f"message {n}") for n in range(1, MESSAGES + 1)]


async def test_redis_restarted_mid_chat_loses_nothing_and_events_resume(
        cluster: Cluster) -> None:
    record = cluster.records[1]
    monitor = await cluster.monitor(cluster.b)
    user = await cluster.user(cluster.a, record)
    await user.until("state", lambda m: m["operators"] == 1)
    await user.send(type="activate")
    await user.until("state", lambda m: m["active"])
    await send_acked(user, 1)
    conversation = (await monitor.until("chat", lambda m: m["text"] == "message 1"))[
        "conversation"]

    cluster.redis.stop()
    await monitor.until("cluster", lambda m: not m["live"])  # the Monitor says so
    for number in (2, 3):  # the home still stores and acknowledges the user's chat
        await send_acked(user, number)
    cluster.redis.start()
    await monitor.until("cluster", lambda m: m["live"])  # reconnected by itself
    await until_figure(cluster.a.port, "livehelp_cluster_redis_connected", 1)  # a too
    # What pub/sub could not carry the page fetches by seq (docs/protocol.md, gaps).
    await monitor.send(type="history", conversation=conversation, after=1)
    missed = [await monitor.until("chat", lambda m: m["seq"] > 1) for _ in range(2)]
    assert [m["text"] for m in missed] == ["message 2", "message 3"]
    # Live events flow again: a's publish reaches b's Monitor without asking.
    await send_acked(user, 4)
    assert (await monitor.until("chat", lambda m: m["seq"] == 4))["text"] == "message 4"
    assert await stored_texts(cluster, conversation) == [
        (n, f"message {n}") for n in range(1, 5)]
