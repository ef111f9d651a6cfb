"""The cluster fixture: two real livehelp processes a and b in cluster mode, a real
redis-server, nx-27017 and nginx in front (tests/cluster_processes.py), with seeded
sessions and one operator; and a person on a socket of one process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.common import LiveHelpProcess, connect, receive, seed, sign_in
from state.store.base import SessionRecord, User
from state.store.mongo import MongoStore
from tests.cluster_processes import Nginx, cluster_process, metrics
from tests.fixtures_redis import RedisServer, redis_server  # noqa: F401  (fixture)

WAIT_SECONDS = 20.0
# Sessions and browsers a session: were the hashing to ignore the session, all
# browsers of every session would meet on one process with a chance of 1 in 4,096.
SESSIONS, BROWSERS = 4, 4
INTERVIEW = "chat_example"  # a demo interview


@dataclass
class Cluster:
    a: LiveHelpProcess
    b: LiveHelpProcess
    nginx: Nginx
    records: list[SessionRecord]
    operator: User
    mongo_uri: str = ""
    database: str = ""
    redis: RedisServer | None = None
    people: list[Person] = field(default_factory=list)

    async def user(self, process: LiveHelpProcess, record: SessionRecord,
                   browser: str = "browser-1") -> Person:
        """An interviewee's socket on `process` (its page's `state` read)."""
        person = Person(await connect(process.ws_url(f"ws/user/{record.id}"),
                                      process.session_cookie(record, browser)))
        person.first = await person.receive("state")
        self.people.append(person)
        return person

    async def monitor(self, process: LiveHelpProcess, user: User | None = None) -> Person:
        """An operator's Monitor socket on `process` (its snapshot read)."""
        person = Person(await connect(process.ws_url("ws/monitor"),
                                      process.user_cookie(user or self.operator)))
        person.first = await person.receive("monitor")
        self.people.append(person)
        return person


@dataclass
class Person:
    ws: object
    first: dict | None = None  # the first message: the page's `state`, the `monitor` snapshot

    async def send(self, **message: object) -> None:
        await self.ws.write_message(json.dumps(message))

    async def receive(self, kind: str | None = None) -> dict:
        return await receive(self.ws, kind, WAIT_SECONDS)

    async def until(self, kind: str, predicate) -> dict:
        """The first message of `kind` for which predicate(message) holds, the first
        message included (once)."""
        first, self.first = self.first, None
        if first is not None and first["type"] == kind and predicate(first):
            return first
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                message = await self.receive(kind)
                if predicate(message):
                    return message


async def until_figure(port: int, name: str, wanted: float) -> None:
    async with asyncio.timeout(WAIT_SECONDS):
        while (await metrics(port)).get(name) != wanted:
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def started_cluster(tmp_path: Path, mongo_uri: str, redis: RedisServer,
                          more: dict | None = None) -> AsyncIterator[Cluster]:
    """Processes a and b (with the further config sections `more`) and nginx, each
    knowing the other; stopped at the end."""
    database = f"cluster_{secrets.token_hex(4)}"
    store = MongoStore(mongo_uri, database)
    await store.open()
    records, [operator] = await seed(store, sessions=SESSIONS, operators=1,
                                     interview=INTERVIEW)
    await sign_in(store, operator)
    await store.close()
    secret = secrets.token_urlsafe(48)
    a = cluster_process(tmp_path / "a", "a", mongo_uri, database, redis.url, secret, more)
    b = cluster_process(tmp_path / "b", "b", mongo_uri, database, redis.url, secret, more)
    nginx = Nginx(tmp_path / "nginx", [a.port, b.port])
    found = Cluster(a, b, nginx, records, operator, mongo_uri, database, redis)
    try:
        for process in (a, b):
            await until_figure(process.port, "livehelp_cluster_processes", 2)
        yield found
    finally:
        for person in found.people:
            person.ws.close()
        nginx.stop()
        for process in (a, b):
            process.stop()


@pytest.fixture
async def cluster(tmp_path: Path, mongo_uri: str,
                  redis_server: RedisServer) -> AsyncIterator[Cluster]:  # noqa: F811
    async with started_cluster(tmp_path, mongo_uri, redis_server) as found:
        yield found
