"""Cluster mode: several livehelp processes behind one load balancer (docs/deployment.md).

Off unless the config's `cluster: redis url` is set. Then `Cluster` carries events
between the processes (`relay.RedisRelay`) and knows which processes are alive
(`presence.Presence`). Redis is this package's only I/O; it imports nothing of the
rest of `state/`, and the model sees it only as the Hub's relay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson
import redis.asyncio as redis

from state.cluster.mirror import RemoteEntries
from state.cluster.presence import Presence
from state.cluster.relay import RedisRelay

log = logging.getLogger(__name__)

# A command to Redis that takes longer than this fails (and the relay reconnects).
REDIS_TIMEOUT_SECONDS = 2.0
# The processes' own channel: whole lists of entries, and asking for them.
CLUSTER_CHANNEL = "cluster"

Deliver = Callable[[str, dict], None]


class Cluster:
    """One process's part in the cluster: its name, the relay, its heartbeat and the
    other processes' Monitor entries. `deliver` hands an event to this process's
    subscribers (Hub.deliver); `local_entries` lists this process's own entries."""

    def __init__(self, url: str, process: str, deliver: Deliver, dead_after_seconds: float,
                 local_entries: Callable[[], list[dict]] = list) -> None:
        self.process = process
        self._redis = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                           socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
        self._deliver = deliver
        self._local_entries = local_entries
        self.remote = RemoteEntries()
        self.relay = RedisRelay(self._redis, process, self._arrived)
        self.relay.on_connect.append(self._connected)
        self.relay.on_disconnect.append(self._tell_state)
        self.presence = Presence(self._redis, process, dead_after_seconds)

    def state(self) -> dict:
        """What this process's Monitors are told: whether the other processes' live
        updates reach them (docs/protocol.md, `cluster`)."""
        return {"type": "cluster", "live": self.relay.connected}

    def _tell_state(self) -> None:
        self._deliver("monitor", self.state())

    def _connected(self) -> None:
        """Connected to Redis (again): say what this process holds, ask for the others',
        and tell this process's Monitors that live updates flow."""
        self._send_entries()
        self.relay.send(CLUSTER_CHANNEL, orjson.dumps({"type": "entries_wanted"}))
        self._tell_state()

    def _send_entries(self) -> None:
        self.relay.send(CLUSTER_CHANNEL, orjson.dumps(
            {"type": "entries", "sessions": self._local_entries()}))

    def _arrived(self, origin: str, channel: str, message: dict) -> None:
        """An event another process published."""
        if channel == CLUSTER_CHANNEL:
            if message["type"] == "entries_wanted":
                self._send_entries()
            elif message["type"] == "entries":
                changed, gone = self.remote.replace(origin, message["sessions"])
                self._tell_monitors(changed, gone)
            return
        if channel == "monitor":
            self.remote.seen(origin, message)
        self._deliver(channel, message)

    def _tell_monitors(self, changed: list[dict], gone: list[str]) -> None:
        for entry in changed:
            self._deliver("monitor", {"type": "session", "session": entry})
        for entry_id in gone:
            self._deliver("monitor", {"type": "session_gone", "id": entry_id})

    async def beat(self) -> None:
        """The heartbeat (a periodic job); the entries of processes no longer alive go."""
        await self.presence.beat()
        for process in self.remote.processes() - set(self.presence.alive):
            log.warning("the sessions of process %s leave the Monitor", process)
            self._tell_monitors([], self.remote.forget(process))

    async def start(self) -> None:
        """Say this process is alive and start relaying. A Redis that is down does not
        stop the start: the relay keeps trying and /metrics says it is disconnected."""
        await self.beat()
        self.relay.start()

    async def stop(self) -> None:
        await self.relay.stop()
        await self.presence.leave()
        await self._redis.aclose()

    def figures(self) -> dict[str, int]:
        return {**self.relay.figures, "redis_connected": int(self.relay.connected),
                "processes": len(self.presence.alive)}
