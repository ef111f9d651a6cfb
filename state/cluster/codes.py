"""Phone access codes across processes: the Redis ledger of live codes, and the tally
the limits on wrong codes count in. The rules are the phone package's
(state/phone/codes.py, limits.py, ledger.py for the contract): here is only storage,
each change one Lua script so that no two processes read-then-write.

Keys (one Redis; times on Redis's clock):
  livehelp:code:<digits>          hash: token, epoch, home, record (JSON), and "ended"
                                  ("used", "withdrawn") once it ended; it lives as long
                                  as the code (PX), after it ended as its tombstone, so
                                  that a home writing its codes again learns their end
  livehelp:codes:epoch            reissue steps so far: a code claimed before the last
                                  one is retired (dead; its digits are free again)
  livehelp:codes:home:<process>   hash token -> digits: the codes a process claimed
  livehelp:codes:operator:<id>    hash token -> digits: the codes of one operator
  livehelp:tally:<name>           the limits' sliding windows (sorted sets scored by
                                  time), counters and marks
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from state.cluster import Cluster

log = logging.getLogger(__name__)

CODE_PREFIX = "livehelp:code:"
EPOCH_KEY = "livehelp:codes:epoch"
HOME_PREFIX = "livehelp:codes:home:"
OPERATOR_PREFIX = "livehelp:codes:operator:"
TALLY_PREFIX = "livehelp:tally:"
# A sync that found Redis away tries again this often (as the relay reconnects).
RETRY_SECONDS = 0.5

# KEYS: the code, the epoch, the home's index, the operator's index.
# ARGV: token, home, record, milliseconds to live, digits.
_CLAIM = """
local epoch = tonumber(redis.call('GET', KEYS[2]) or '0')
local held = redis.call('HMGET', KEYS[1], 'token', 'epoch', 'ended')
if held[1] == ARGV[1] then
  if held[3] then return held[3] end
  if tonumber(held[2]) < epoch then return 'retired' end
  return 'claimed'
end
if held[1] and not held[3] and tonumber(held[2]) >= epoch then return 'taken' end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'epoch', epoch, 'home', ARGV[2],
           'record', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
for i = 3, 4 do
  redis.call('HSET', KEYS[i], ARGV[1], ARGV[5])
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[4]) then
    redis.call('PEXPIRE', KEYS[i], ARGV[4])
  end
end
return 'claimed'
"""
# KEYS: the code, the epoch. Marks a live code used (its tombstone keeps its TTL).
_USE = """
local held = redis.call('HMGET', KEYS[1], 'epoch', 'ended', 'home', 'record')
if not held[1] or held[2] then return false end
if tonumber(held[1]) < tonumber(redis.call('GET', KEYS[2]) or '0') then return false end
redis.call('HSET', KEYS[1], 'ended', 'used')
return {held[3], held[4]}
"""
# KEYS: the code, the index it was found in. ARGV: token.
_WITHDRAW = """
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('HSETNX', KEYS[1], 'ended', 'withdrawn')
end
redis.call('HDEL', KEYS[2], ARGV[1])
"""
# The start of both window scripts (KEYS: a window. ARGV: window ms, ...): `ms` is now on
# Redis's clock, and what fell out of the window is dropped.
_TRIM = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms - tonumber(ARGV[1]))
"""
# ARGV: window ms, limit, member. Returns 1 if it was added.
_TAKE = _TRIM + """
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return false end
redis.call('ZADD', KEYS[1], ms, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""
# ARGV: window ms. Its members and scores, oldest first.
_ENTRIES = _TRIM + """
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
"""


class LedgerUnavailable(ConnectionError):
    """Redis could not be reached (the phone package expects a ConnectionError)."""


T = TypeVar("T")


async def _ask(request: Awaitable[T]) -> T:
    try:
        return await request
    except (RedisError, OSError) as error:
        raise LedgerUnavailable(f"Redis: {error}") from error


class RedisCodeLedger:
    """state/phone/ledger.CodeLedger over Redis, for one process of the cluster."""

    def __init__(self, cluster: Cluster) -> None:
        self.process = cluster.process
        self._cluster = cluster
        self._redis = cluster.redis
        self._claim = self._redis.register_script(_CLAIM)
        self._use = self._redis.register_script(_USE)
        self._withdraw = self._redis.register_script(_WITHDRAW)
        self._held: Callable[[], list[tuple[dict, float]]] = list
        self._settle: Callable[[dict[str, str]], None] = lambda _outcomes: None
        self._operators: set[str] = set()  # whose codes are still to be withdrawn
        self._gone: set[str] = set()  # processes gone whose codes are still to be withdrawn
        self._wanted = False
        self._task: asyncio.Future | None = None
        # Redis restarted, or this process was cut off: write the codes again.
        cluster.relay.on_connect.append(self.sync)
        cluster.on_gone.append(self._process_gone)

    def attach(self, held: Callable[[], list[tuple[dict, float]]],
               settle: Callable[[dict[str, Any]], None]) -> None:
        self._held, self._settle = held, settle

    def on(self, kind: str, handler: Callable[[str, dict], None]) -> None:
        self._cluster.on(kind, handler)

    def tell(self, process: str, message: dict) -> None:
        self._cluster.tell(process, message)

    def tell_all(self, message: dict) -> None:
        self._cluster.tell_all(message)

    def withdraw_operator(self, operator_id: str) -> None:
        self._operators.add(operator_id)
        self.sync()

    def _process_gone(self, process: str) -> None:
        """Its codes die with it, as one process's do when it stops."""
        self._gone.add(process)
        self.sync()

    def sync(self) -> None:
        """One sync at a time, and one more after it if anything changed meanwhile:
        a burst of changes costs one or two syncs, and the ledger sees them in order."""
        self._wanted = True
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._syncing())

    async def _syncing(self) -> None:
        while self._wanted:
            self._wanted = False
            try:
                self._settle(await self._sync_once())
            except (RedisError, OSError) as error:
                log.warning("phone codes not written to Redis (%s); trying again", error)
                self._wanted = True
                await asyncio.sleep(RETRY_SECONDS)
            except Exception:  # a bug must not stop every later sync
                log.exception("phone codes: a sync with Redis failed")

    async def _sync_once(self) -> dict[str, str]:
        held = self._held()
        tokens = {record["token"] for record, _seconds in held}
        home = HOME_PREFIX + self.process
        # What to withdraw: this process's codes it holds no more (withdrawn meanwhile, or
        # issued before it restarted), cleared operators' codes and gone processes' codes.
        indexes = [(home, {t: d for t, d in (await self._redis.hgetall(home)).items()
                           if t.decode() not in tokens})]
        operators = sorted(self._operators)
        gone = sorted(self._gone)
        for index in [OPERATOR_PREFIX + o for o in operators] + [HOME_PREFIX + g for g in gone]:
            indexes.append((index, await self._redis.hgetall(index)))
        pipe = self._redis.pipeline(transaction=False)
        for index, codes in indexes:
            for token, digits in codes.items():
                await self._withdraw(keys=[CODE_PREFIX + digits.decode(), index],
                                     args=[token], client=pipe)
        for record, seconds in held:
            await self._claim(
                keys=[CODE_PREFIX + record["code"], EPOCH_KEY, home,
                      OPERATOR_PREFIX + record["operator_id"]],
                args=[record["token"], self.process, orjson.dumps(record),
                      max(1, int(seconds * 1000)), record["code"]],
                client=pipe)
        results = await pipe.execute()
        self._operators.difference_update(operators)
        self._gone.difference_update(gone)
        claims = results[len(results) - len(held):]
        return {record["token"]: outcome.decode()
                for (record, _seconds), outcome in zip(held, claims, strict=True)}

    async def use(self, code: str) -> dict | None:
        found = await _ask(self._use(keys=[CODE_PREFIX + code, EPOCH_KEY]))
        if not found:
            return None
        home, record = found
        return {**orjson.loads(record), "home": home.decode()}

    async def retire_all(self) -> None:
        await _ask(self._redis.incr(EPOCH_KEY))


class RedisTally:
    """state/phone/limits.Tally over Redis: every process counts in the same windows,
    on Redis's clock. Redis expires what no longer counts by itself."""

    def __init__(self, client: Any) -> None:
        self._redis = client
        self._take = client.register_script(_TAKE)
        self._entries = client.register_script(_ENTRIES)

    async def take(self, name: str, limit: int, window: float, label: str) -> object | None:
        # The random part keeps two entries of one millisecond apart.
        member = f"{secrets.token_hex(8)}|{label}"
        taken = await _ask(self._take(keys=[TALLY_PREFIX + name],
                                      args=[int(window * 1000), limit, member]))
        return (name, member) if taken else None

    async def give_back(self, ticket: object) -> None:
        name, member = ticket  # type: ignore[misc]
        await _ask(self._redis.zrem(TALLY_PREFIX + name, member))

    async def entries(self, name: str, window: float) -> list[tuple[float, str]]:
        flat = await _ask(self._entries(keys=[TALLY_PREFIX + name], args=[int(window * 1000)]))
        return [(float(score) / 1000, member.decode().partition("|")[2])
                for member, score in zip(flat[::2], flat[1::2], strict=True)]

    async def count_up(self, name: str) -> int:
        return await _ask(self._redis.incr(TALLY_PREFIX + name))

    async def mark(self, name: str, seconds: float) -> bool:
        return bool(await _ask(self._redis.set(TALLY_PREFIX + name, 1, nx=True,
                                               px=int(seconds * 1000))))

    async def marked(self, name: str) -> bool:
        return bool(await _ask(self._redis.exists(TALLY_PREFIX + name)))

    async def clear(self, name: str) -> None:
        await _ask(self._redis.delete(TALLY_PREFIX + name))

    def prune(self) -> None:
        """Nothing to do: windows and marks carry their own expiry in Redis."""
