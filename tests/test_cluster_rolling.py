"""A rolling restart of both processes of a real cluster during a 10,000-message help
chat (docs/deployment.md, "Restarting one process at a time"): each process in turn is
stopped with SIGTERM and started again while the user writes without pause. The user
speaks the protocol as its page does: it sends the next message once the last one is
acknowledged; when its socket closes it reconnects through nginx, says `hello` with
the last seq it has and sends again what was not acknowledged (the same `client_id`);
a refusal it waits out and sends again. The operator keeps a Monitor on each process
(each reconnects when its process comes back), so someone is always there to chat to.

At the end the conversation holds every message exactly once, in order: 0 lost,
0 doubled."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tornado.websocket import WebSocketClosedError

from bench.common import LOAD_LIMITS, LiveHelpProcess, connect
from tests.fixtures_cluster import WAIT_SECONDS, Cluster, Person, started_cluster
from tests.fixtures_redis import RedisServer
from tests.test_cluster_faults import user_through_nginx
from tests.test_cluster_scenarios import stored_texts

MESSAGES = 10_000
RESTARTS_AT = {2_500: "a", 6_000: "b"}  # after this many acknowledged messages
REFUSED_WAIT_SECONDS = 0.05  # a refusal (no operator for a moment) is sent again after this


async def keep_monitor(cluster: Cluster, process: LiveHelpProcess) -> None:
    """The operator's Monitor on `process`, connected again whenever it comes back."""
    while True:
        try:
            person = Person(await connect(process.ws_url("ws/monitor"),
                                          process.user_cookie(cluster.operator)))
        except OSError:
            await asyncio.sleep(REFUSED_WAIT_SECONDS)
            continue
        while await person.ws.read_message() is not None:
            pass


async def chat(cluster: Cluster, record, restart) -> tuple[str, int]:
    """Send MESSAGES messages one after another; the conversation, and the
    reconnections it took."""
    user = await user_through_nginx(cluster, record, active=True)
    last_seq, reconnects, number, conversation = 0, 0, 1, ""
    while number <= MESSAGES:
        try:
            await user.send(type="chat", client_id=f"m{number}", text=f"message {number}")
            while True:
                reply = await user.receive()
                if reply["type"] == "ack" and reply["client_id"] == f"m{number}":
                    last_seq, number = reply["seq"], number + 1
                    conversation = reply["conversation"]
                    break
                if reply["type"] == "error" and reply["ref"] == f"m{number}":
                    await asyncio.sleep(reply.get("retry_after") or REFUSED_WAIT_SECONDS)
                    break  # the same message again
        except (ConnectionError, OSError, WebSocketClosedError):
            reconnects += 1
            user = await reconnect(cluster, record, last_seq)
            continue
        if number - 1 in RESTARTS_AT:
            await restart(RESTARTS_AT.pop(number - 1))
    return conversation, reconnects


async def reconnect(cluster: Cluster, record, last_seq: int) -> Person:
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            try:
                return await user_through_nginx(cluster, record, last_seq, active=True)
            except (ConnectionError, OSError):
                await asyncio.sleep(REFUSED_WAIT_SECONDS)


async def test_a_rolling_restart_during_a_long_chat_loses_and_doubles_nothing(
        tmp_path: Path, mongo_uri: str, redis_server: RedisServer) -> None:
    async with started_cluster(tmp_path, mongo_uri, redis_server, LOAD_LIMITS) as cluster:
        monitors = [asyncio.ensure_future(keep_monitor(cluster, process))
                    for process in (cluster.a, cluster.b)]
        restarted = []

        async def restart(name: str) -> None:
            """SIGTERM, then start again on the same port, while the chat goes on."""
            process = cluster.a if name == "a" else cluster.b
            await asyncio.to_thread(process.stop)
            await asyncio.to_thread(process.start)
            restarted.append(name)

        try:
            record = cluster.records[0]
            conversation, reconnects = await chat(cluster, record, restart)
        finally:
            for task in monitors:
                task.cancel()
        assert restarted == ["a", "b"]
        assert reconnects >= 1  # the user's home was one of them: its socket moved
        assert await stored_texts(cluster, conversation) == [(n, f"message {n}") for n in range(1, MESSAGES + 1)]
