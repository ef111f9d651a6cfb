"""Operators' places across processes (state/cluster/load.py) against a real
redis-server: two homes routing at once give one operator no more than their capacity;
the loser's conversation waits again, first in its line; a process gone frees its
places; after Redis lost everything each home states its places again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as redis

from state.cluster.load import SET_PREFIX, RedisLoad
from state.config import RoutingFile
from state.livehelp.model import LiveHelp
from tests.fixtures_redis import RedisServer
from tests.model_helpers import live_record, make_model
from tests.test_livehelp_model import operator


@dataclass
class Home:
    model: LiveHelp
    load: RedisLoad


@pytest.fixture
async def homes(store, redis_server: RedisServer) -> AsyncIterator[tuple[Home, Home, object]]:
    client = redis.Redis.from_url(redis_server.url)
    found = []
    for name in ("a", "b"):
        model, _ = make_model(store, routing=RoutingFile(capacity=1))
        load = RedisLoad(client, name)
        load.refused = model.claim_refused
        model.routing.claims = load
        load.start()
        found.append(Home(model, load))
    # The operator's Monitor is on b; a knows them from b's report (as cluster_mode wires).
    user = await operator(found[1].model)
    found[0].model.operators.elsewhere("b", found[1].model.operators.report())
    try:
        yield found[0], found[1], user
    finally:
        for home in found:
            await home.load.stop(2.0)
        await client.aclose()


def activate(model: LiveHelp):
    client = model.client_connected(live_record(), "Demo", "b:browser", None)
    model.activate(client.key)
    return client


async def test_two_homes_routing_at_once_fill_one_place_once(homes) -> None:
    a, b, user = homes
    # Both decide in the same turn of the loop, before either hears of the other.
    at_a, at_b = activate(a.model), activate(b.model)
    assert at_a.operator_id == at_b.operator_id == user.id
    for home in (a, b):
        await home.load.settled()
    holders = [c for c in (at_a, at_b) if c.operator_id == user.id]
    assert len(holders) == 1  # Redis let one claim through
    [loser] = [c for c in (at_a, at_b) if c.operator_id is None]
    model = a.model if loser is at_a else b.model
    assert model.user_state(loser)["queue"]["position"] == 1
    assert a.load.figures["claims_refused"] + b.load.figures["claims_refused"] == 1


async def test_a_released_place_is_free_for_the_other_home(homes) -> None:
    a, b, user = homes
    first = activate(b.model)
    await b.load.settled()
    b.model.deactivate(first.key)  # the chat ends at b: the place frees
    await b.load.settled()
    second = activate(a.model)
    await a.load.settled()
    assert second.operator_id == user.id


async def test_a_process_gone_frees_its_places_and_a_home_restates_its_own(
        homes, redis_server: RedisServer) -> None:
    a, b, user = homes
    activate(a.model)
    await a.load.settled()
    client = redis.Redis.from_url(redis_server.url)
    try:
        key = SET_PREFIX + user.id
        assert len(await client.smembers(key)) == 1
        b.load.forget("a")  # b found a gone
        await b.load.settled()
        assert await client.smembers(key) == set()
        a.load.restate(a.model.routing.assignments())  # as after Redis came back
        await a.load.settled()
        assert [m.split(b"\n")[0] for m in await client.smembers(key)] == [b"a"]
    finally:
        await client.aclose()
