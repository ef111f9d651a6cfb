"""Cluster mode's parts against a real redis-server: the Hub's relay between
processes (two Hubs here, as two processes would have) and the processes' heartbeats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from state.cluster import Cluster, mirror
from state.livehelp.hub import Hub
from tests.fixtures_redis import RedisServer, redis_server  # noqa: F401  (fixture)

WAIT_SECONDS = 10.0


async def until(condition: Callable[[], bool], step: Callable[[], Awaitable] | None = None) -> None:
    """Wait for `condition` (doing `step` between looks), at most WAIT_SECONDS."""
    async with asyncio.timeout(WAIT_SECONDS):
        while not condition():
            await (step() if step else asyncio.sleep(0.01))


class Process:
    """What one livehelp process has of the cluster: a Hub relayed through Redis."""

    def __init__(self, url: str, name: str, dead_after: float = 5.0,
                 entries: list[dict] | None = None) -> None:
        self.hub = Hub()
        self.entries = entries or []  # the Monitor entries it holds
        self.cluster = Cluster(url, name, self.hub.deliver, dead_after, lambda: self.entries)
        self.hub.relay = self.cluster.relay
        self.seen: dict[str, list[dict]] = {}
        self.states: list[bool] = []  # what its Monitors were told: live updates or not

    def listen(self, channel: str) -> list[dict]:
        received = self.seen.setdefault(channel, [])

        def arrived(message: dict) -> None:
            if message.get("type") == "cluster":
                self.states.append(message["live"])
            else:
                received.append(message)

        self.hub.subscribe(channel, arrived)
        return received


@pytest.fixture
async def two(redis_server: RedisServer) -> AsyncIterator[tuple[Process, Process]]:  # noqa: F811
    a, b = Process(redis_server.url, "a"), Process(redis_server.url, "b")
    for process in (a, b):
        await process.cluster.start()
    await until(lambda: a.cluster.relay.connected and b.cluster.relay.connected)
    yield a, b
    for process in (a, b):
        await process.cluster.stop()


async def test_what_operators_see_reaches_the_other_process_and_a_sessions_channel_does_not(
        two: tuple[Process, Process]) -> None:
    a, b = two
    monitor_at_b, client_at_b = b.listen("monitor"), b.listen("client:s-1.k")
    operator_at_b = b.listen("operator:op-1")
    a.hub.publish("client:s-1.k", {"type": "state", "n": 1})
    a.hub.publish("operator:op-1", {"type": "ack", "n": 2})
    a.hub.publish("monitor", {"type": "entry", "n": 3})
    await until(lambda: monitor_at_b)  # the sentinel: published last, one pipeline, in order
    assert monitor_at_b == [{"type": "entry", "n": 3}]
    assert operator_at_b == [{"type": "ack", "n": 2}]
    assert client_at_b == []


async def test_a_process_gets_its_own_event_once(two: tuple[Process, Process]) -> None:
    a, b = two
    at_a, at_b = a.listen("monitor"), b.listen("monitor")
    a.hub.publish("monitor", {"n": 1})
    assert at_a == [{"n": 1}]  # delivered here as it is published
    await until(lambda: at_b)  # through Redis, and so to a's subscription before what b says
    b.hub.publish("monitor", {"n": 2})
    await until(lambda: len(at_a) == 2)
    assert at_a == [{"n": 1}, {"n": 2}]


async def test_without_redis_events_stay_local_and_the_relay_comes_back_by_itself(
        two: tuple[Process, Process], redis_server: RedisServer) -> None:  # noqa: F811
    a, b = two
    resynced = asyncio.Event()
    b.cluster.relay.on_connect.append(resynced.set)
    at_a, at_b = a.listen("monitor"), b.listen("monitor")
    redis_server.stop()
    await until(lambda: not a.cluster.relay.connected and not b.cluster.relay.connected)
    a.hub.publish("monitor", {"n": "while down"})
    assert at_a == [{"n": "while down"}]  # this process's own operators still get it
    assert a.cluster.relay.figures["events_dropped"] == 1
    assert a.cluster.figures()["redis_connected"] == 0
    assert a.states == [False]  # its Monitors are told
    redis_server.start()
    await until(lambda: a.cluster.relay.connected and b.cluster.relay.connected)
    await asyncio.wait_for(resynced.wait(), WAIT_SECONDS)  # snapshots are sent again
    a.hub.publish("monitor", {"n": "back"})
    await until(lambda: at_b)
    assert at_b == [{"n": "back"}]
    assert a.states == [False, True]
    assert b.cluster.relay.figures["redis_reconnects"] >= 1


async def test_a_process_that_stops_beating_is_found_dead_once(
        redis_server: RedisServer) -> None:  # noqa: F811
    a = Process(redis_server.url, "a", dead_after=0.3)
    b = Process(redis_server.url, "b", dead_after=0.3)
    try:
        await a.cluster.presence.beat()
        await b.cluster.presence.beat()
        assert sorted(b.cluster.presence.alive) == ["a", "b"]
        # a beats no more (as after kill -9); b goes on beating.
        await until(lambda: b.cluster.presence.died, b.cluster.presence.beat)
        assert b.cluster.presence.died == ["a"]
        assert b.cluster.presence.alive == ["b"]
        await a.cluster.presence.beat()  # back (a pause, not a death): alive again
        await b.cluster.presence.beat()
        assert sorted(b.cluster.presence.alive) == ["a", "b"]
        await a.cluster.presence.leave()  # a clean stop is known at once
        await b.cluster.presence.beat()
        assert b.cluster.presence.alive == ["b"]
        assert b.cluster.presence.died == ["a"]
    finally:
        for process in (a, b):
            await process.cluster.stop()


def entry(entry_id: str, **fields: object) -> dict:
    return {"id": entry_id, "session": entry_id, "conversation": entry_id, "status": "on",
            "chat": True, "participants": [{"label": "Ann", "status": "on"}], **fields}


async def test_a_process_that_starts_late_learns_the_others_entries_and_keeps_them_current(
        redis_server: RedisServer) -> None:  # noqa: F811
    a = Process(redis_server.url, "a", entries=[entry("e1"), entry("e2")])
    b = Process(redis_server.url, "b")
    monitor_at_b = b.listen("monitor")
    await a.cluster.start()
    await until(lambda: a.cluster.relay.connected)
    await b.cluster.start()  # asks for the others' lists as it connects
    try:
        await until(lambda: len(b.cluster.remote.entries()) == 2)
        assert b.cluster.remote.entries() == [entry("e1"), entry("e2")]
        assert monitor_at_b == [{"type": "session", "session": entry("e1")},
                                {"type": "session", "session": entry("e2")}]
        a.hub.publish("monitor", {"type": "session", "session": entry("e1", status="waiting")})
        a.hub.publish("monitor", {"type": "session_gone", "id": "e2"})
        await until(lambda: len(monitor_at_b) == 4)
        assert b.cluster.remote.entries() == [entry("e1", status="waiting")]
    finally:
        for process in (a, b):
            await process.cluster.stop()


async def test_the_entries_of_a_dead_process_go_offline_then_leave_the_other_monitors(
        redis_server: RedisServer, monkeypatch) -> None:  # noqa: F811
    a = Process(redis_server.url, "a", dead_after=0.3, entries=[entry("e1")])
    b = Process(redis_server.url, "b", dead_after=0.3)
    monitor_at_b = b.listen("monitor")
    for process in (a, b):
        await process.cluster.start()
    try:
        await until(lambda: b.cluster.remote.entries())
        await a.cluster.relay.stop()  # a dies: it beats no more
        offline = lambda: [e["status"] for e in b.cluster.remote.entries()] == ["offline"]
        await until(offline, b.cluster.beat)
        told = monitor_at_b[-1]["session"]
        assert (told["id"], told["status"], told["participants"]) == (
            "e1", "offline", [{"label": "Ann", "status": "offline"}])
        assert "a" not in b.cluster.remote.processes()  # found gone once
        monkeypatch.setattr(mirror, "OFFLINE_KEPT_SECONDS", 0.0)
        await b.cluster.beat()
        assert b.cluster.remote.entries() == []
        assert monitor_at_b[-1] == {"type": "session_gone", "id": "e1"}
    finally:
        for process in (a, b):
            await process.cluster.stop()
