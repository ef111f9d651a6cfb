"""Which processes of the cluster are alive: each says so on every heartbeat; one
not heard from for `dead after seconds` is dead.

The processes' last beats are one sorted set in Redis, scored by Redis's own clock
(machines' clocks may differ). One script per beat records this process's beat,
removes the processes whose last beat is too old and returns those still alive and
those it removed, so each death is found once, by one process, whatever many beat.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PROCESSES_KEY = "livehelp:processes"
_BEAT = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZADD', KEYS[1], ms, ARGV[1])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ms - tonumber(ARGV[2]))
if #dead > 0 then redis.call('ZREM', KEYS[1], unpack(dead)) end
return {redis.call('ZRANGE', KEYS[1], 0, -1), dead}
"""


class Presence:
    def __init__(self, client: Any, process: str, dead_after_seconds: float) -> None:
        self.process = process
        self._dead_after_ms = int(dead_after_seconds * 1000)
        self._beat = client.register_script(_BEAT)
        self._client = client
        self.alive: list[str] = []  # as of the last beat that reached Redis
        self.died: list[str] = []  # every death this process found, oldest first

    async def beat(self) -> bool:
        """A periodic job: a Redis that cannot be reached is logged, not raised (False)."""
        try:
            alive, dead = await self._beat(keys=[PROCESSES_KEY],
                                           args=[self.process, self._dead_after_ms])
        except (RedisError, OSError) as exc:
            log.warning("cluster heartbeat of %s failed: %s", self.process, exc)
            return False
        self.alive = [name.decode() for name in alive]
        for name in dead:
            log.warning("process %s stopped beating: taken for dead", name.decode())
            self.died.append(name.decode())
        return True

    async def leave(self) -> None:
        """A process that stops cleanly says so: the others need not wait to know."""
        try:
            await self._client.zrem(PROCESSES_KEY, self.process)
        except (RedisError, OSError) as exc:
            log.warning("cluster leave of %s failed: %s", self.process, exc)
