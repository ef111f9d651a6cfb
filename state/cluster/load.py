"""Operators' places across processes: which conversations hold each operator, in Redis,
so that two homes routing at once cannot give one operator more than their capacity.

Each home assigns at once in memory (routing.py) and claims the place here in the same
order, one Redis script a claim: it adds the conversation to the operator's set unless
the set is at capacity (never read-then-write across processes). A claim another home
beat comes back to the model (`refused`), which puts the conversation back first in
its line. Take-overs and operators' own chats claim whatever the load.

Members are "<process>\\n<client key>", so a process gone takes its places with it
(`forget`), and after Redis comes back each home states its places again (`restate`).
While Redis is away claims are kept, not refused (a conversation is not taken from an
operator for want of Redis), and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)

INDEX_KEY = "livehelp:load"  # the operators' set keys
SET_PREFIX = "livehelp:load:"
_CLAIM = """
local capacity = tonumber(ARGV[2])
local held = redis.call('SCARD', KEYS[1])
if capacity > 0 and held >= capacity and redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  return -held
end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], KEYS[1])
return 1
"""
_FORGET = """
local prefix = ARGV[1]
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  for _, member in ipairs(redis.call('SMEMBERS', key)) do
    if string.sub(member, 1, #prefix) == prefix then redis.call('SREM', key, member) end
  end
  if redis.call('SCARD', key) == 0 then redis.call('SREM', KEYS[1], key) end
end
return 1
"""


class RedisLoad:
    def __init__(self, client: Any, process: str) -> None:
        self.process = process
        self._client = client
        # refused(client key, operator id, places held): a capped claim another process
        # beat, and how many places the operator holds across the cluster.
        self.refused: Callable[[str, str, int], None] = lambda key, operator_id, held: None
        self._claim = client.register_script(_CLAIM)
        self._forget = client.register_script(_FORGET)
        self._prefix = process + "\n"
        self._work: asyncio.Queue[tuple] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self.figures = {"claims_refused": 0, "claims_unchecked": 0}

    # ------------------------------------------------------------ the model's Claims
    def claim(self, key: str, operator_id: str, capacity: int | None) -> None:
        self._work.put_nowait(("claim", key, operator_id, capacity or 0))

    def release(self, key: str, operator_id: str) -> None:
        self._work.put_nowait(("release", key, operator_id))

    # ------------------------------------------------------------ the cluster's
    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self, timeout: float) -> None:
        """Free this process's places (within `timeout`), then stop."""
        if self._task is not None:
            self.forget(self.process)
            try:
                await asyncio.wait_for(self.settled(), timeout)
            except TimeoutError:
                log.warning("operator places of %s not freed in Redis", self.process)
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def settled(self) -> None:
        """Every claim and release asked for so far is done (for tests and benches)."""
        await self._work.join()

    def forget(self, process: str) -> None:
        """`process` is gone (or starts again): its places free."""
        self._work.put_nowait(("forget", process))

    def restate(self, assignments: list[tuple[str, str]]) -> None:
        """After Redis came back (empty, perhaps): this process's places, claimed again."""
        self.forget(self.process)
        for key, operator_id in assignments:
            self.claim(key, operator_id, None)

    async def _run(self) -> None:
        while True:
            work = await self._work.get()
            try:
                await self._do(*work)
            except (RedisError, OSError) as exc:
                self.figures["claims_unchecked"] += 1
                log.warning("operator load %s not recorded in Redis: %s", work[0], exc)
            except Exception:
                log.exception("operator load %s failed", work[0])
            finally:
                self._work.task_done()

    async def _do(self, kind: str, *args: Any) -> None:
        if kind == "claim":
            key, operator_id, capacity = args
            outcome = await self._claim(keys=[SET_PREFIX + operator_id, INDEX_KEY],
                                        args=[self._prefix + key, capacity])
            if outcome < 0:
                self.figures["claims_refused"] += 1
                log.info("operator %s was full on another process: %s waits again",
                         operator_id, key)
                self.refused(key, operator_id, -outcome)
        elif kind == "release":
            key, operator_id = args
            await self._client.srem(SET_PREFIX + operator_id, self._prefix + key)
        else:
            (process,) = args
            await self._forget(keys=[INDEX_KEY], args=[process + "\n"])
