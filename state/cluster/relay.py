"""Events between processes over Redis pub/sub.

Each session has a home process (the load balancer hashes the session id of its
sockets' paths, so all of one session's sockets meet there): the channels of one
session ("client:", "session:") stay at home. What operators see crosses processes:
the Hub hands the relay every event of a relayed channel ("monitor",
"operator:<id>"); the relay publishes it on Redis, and what the other processes
publish it delivers to this process's subscribers only.

Redis pub/sub drops what it cannot deliver (a subscriber too slow or disconnected),
and the relay drops what is published while it is disconnected: nothing relies on
pub/sub for correctness. Chat pages fill gaps by seq from the store; the relay calls
`on_connect` after every connect (the first and each reconnect) so that snapshots
are sent again, and `on_disconnect` when Redis goes, so that Monitors can say so. The figures
count what was sent, received and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PREFIX = "livehelp:events:"
# While Redis cannot be reached, try again this often.
RECONNECT_SECONDS = 0.5
# Events waiting for the publisher at most; more are dropped (and counted).
MAX_PENDING = 10_000
# How long stop() waits for the loops to end.
STOP_SECONDS = 2.0


class RedisRelay:
    def __init__(self, client: Any, process: str,
                 deliver: Callable[[str, str, dict], None]) -> None:
        """`deliver(origin process, channel, event)` gets what the others publish."""
        self.process = process
        self._client = client
        self._deliver = deliver
        self._name = process.encode()
        self._origin = self._name + b"\n"  # what begins each event this process publishes
        self._pending: deque[tuple[str, bytes]] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.connected = False
        self._stopping = False
        self.on_connect: list[Callable[[], None]] = []
        self.on_disconnect: list[Callable[[], None]] = []
        self.figures = {"events_sent": 0, "events_received": 0, "events_dropped": 0,
                        "redis_reconnects": 0}

    @staticmethod
    def carries(channel: str) -> bool:
        """Channels other processes subscribe to: what operators see."""
        return channel == "monitor" or channel.startswith("operator:")

    def send(self, channel: str, body: bytes) -> None:
        """Queue one event (its JSON) for the other processes; never waits."""
        if not self.connected or len(self._pending) >= MAX_PENDING:
            self.figures["events_dropped"] += 1
            return
        self._pending.append((channel, body))
        self._wake.set()

    def start(self) -> None:
        self._tasks = [asyncio.ensure_future(self._publish()),
                       asyncio.ensure_future(self._subscribe())]

    async def stop(self) -> None:
        """Stop both loops. A cancel that lands inside redis-py while a command is in
        flight can be swallowed there (seen at shutdown): the loops also check
        `_stopping`, and the wait is bounded."""
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=STOP_SECONDS)
            if stuck:
                log.warning("relay: %d loops did not stop in %s s", len(stuck), STOP_SECONDS)
        self._tasks = []

    async def _publish(self) -> None:
        """Everything queued goes in one pipeline: one round trip however many events."""
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            batch = list(self._pending)
            self._pending.clear()
            if not batch:
                continue
            pipe = self._client.pipeline(transaction=False)
            for channel, body in batch:
                pipe.publish(PREFIX + channel, self._origin + body)
            try:
                await pipe.execute()
                self.figures["events_sent"] += len(batch)
            except (RedisError, OSError) as exc:
                self.figures["events_dropped"] += len(batch)
                log.warning("relay could not publish %d events: %s", len(batch), exc)

    async def _subscribe(self) -> None:
        while not self._stopping:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(PREFIX + "*")
                if self.figures["redis_reconnects"]:
                    log.warning("relay connected to Redis again: snapshots are sent again")
                self.connected = True
                for connected in list(self.on_connect):
                    connected()
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None:
                        self._received(message)
            except (RedisError, OSError) as exc:
                self._pending.clear()
                self.figures["redis_reconnects"] += 1
                if self.connected:
                    log.warning("relay lost Redis: %s; live updates from other processes"
                                " stop until it is back", exc)
                    self.connected = False
                    for disconnected in list(self.on_disconnect):
                        disconnected()
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
            await asyncio.sleep(RECONNECT_SECONDS)

    def _received(self, message: dict) -> None:
        origin, _, body = message["data"].partition(b"\n")
        if origin == self._name:
            return  # delivered here already, when it was published
        self.figures["events_received"] += 1
        channel = message["channel"].decode()[len(PREFIX):]
        try:
            self._deliver(origin.decode(), channel, orjson.loads(body))
        except Exception:  # one bad event must not stop the relay
            log.exception("relay could not deliver an event on %s", channel)
