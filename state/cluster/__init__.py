"""Cluster mode: several livehelp processes behind one load balancer (docs/deployment.md).

Off unless the config's `cluster: redis url` is set. Then `Cluster` carries events
between the processes (`relay.RedisRelay`) and knows which processes are alive
(`presence.Presence`). Redis is this package's only I/O; it imports nothing of the
rest of `state/`, and the model sees it only as the Hub's relay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis.asyncio as redis

from state.cluster.presence import Presence
from state.cluster.relay import RedisRelay

log = logging.getLogger(__name__)

# A command to Redis that takes longer than this fails (and the relay reconnects).
REDIS_TIMEOUT_SECONDS = 2.0


class Cluster:
    """One process's part in the cluster: its name, the relay and its heartbeat."""

    def __init__(self, url: str, process: str, deliver: Callable[[str, dict], None],
                 dead_after_seconds: float) -> None:
        self.process = process
        self._redis = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                           socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
        self.relay = RedisRelay(self._redis, process, deliver)
        self.presence = Presence(self._redis, process, dead_after_seconds)

    async def start(self) -> None:
        """Say this process is alive and start relaying. A Redis that is down does not
        stop the start: the relay keeps trying and /metrics says it is disconnected."""
        await self.presence.beat()
        self.relay.start()

    async def stop(self) -> None:
        await self.relay.stop()
        await self.presence.leave()
        await self._redis.aclose()

    def figures(self) -> dict[str, int]:
        return {**self.relay.figures, "redis_connected": int(self.relay.connected),
                "processes": len(self.presence.alive)}
