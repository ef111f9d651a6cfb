"""Cluster mode: several livehelp processes behind one load balancer (docs/deployment.md).

Off unless the config's `cluster: redis url` is set. Then `Cluster` carries events
between the processes (`relay.RedisRelay`) and knows which processes are alive
(`presence.Presence`). Redis is this package's only I/O; it imports nothing of the
rest of `state/`, and the model sees it only as the Hub's relay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import orjson
import redis.asyncio as redis

from state.cluster.load import RedisLoad
from state.cluster.mirror import RemoteEntries
from state.cluster.presence import Presence
from state.cluster.relay import RedisRelay

log = logging.getLogger(__name__)

# A command to Redis that takes longer than this fails (and the relay reconnects).
REDIS_TIMEOUT_SECONDS = 2.0
# The processes' own channel: whole lists of entries, and asking for them.
CLUSTER_CHANNEL = "cluster"

Deliver = Callable[[str, dict], None]
# A process's own channel ("to:<process name>"): what another process asks of it alone.
TO_PREFIX = "to:"
Handler = Callable[[str, dict], None]  # (origin process, message)


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
        self.load = RedisLoad(self._redis, process)  # operators' places
        self._handlers: dict[str, list[Handler]] = {}
        self.on("wanted", lambda origin, message: self._state_all())
        self.on("entries", self._entries_of)
        self._to_me = TO_PREFIX + process
        # What this process says of itself in whole (each a message for `tell_all`):
        # after each connect to Redis, and whenever another process asks.
        self.statements: list[Callable[[], dict]] = [
            lambda: {"type": "entries", "sessions": self._local_entries()}]
        # Called with a process's name when it is no longer alive.
        self.on_gone: list[Callable[[str], None]] = []
        self._heard: set[str] = set()  # processes heard from, and not found gone since
        # Tells this process's Monitors the roles asked for on every process (their union).
        self.on_roles: Callable[[], None] = lambda: None

    @property
    def redis(self) -> redis.Redis:
        """The Redis client, for the parts of cluster mode that keep state there (codes)."""
        return self._redis

    def stating(self, statement: Callable[[], dict]) -> Callable[[], None]:
        """Add `statement` to what this process says of itself; the callable returned says
        it again, once in the next turn of the loop however often it is called."""
        self.statements.append(statement)
        scheduled = False

        def say() -> None:
            nonlocal scheduled
            scheduled = False
            self.tell_all(statement())

        def changed() -> None:
            nonlocal scheduled
            if not scheduled:
                scheduled = True
                asyncio.get_running_loop().call_soon(say)

        return changed

    def on(self, kind: str, handler: Handler) -> None:
        """Call `handler(origin, message)` for each message of this `type` that another
        process sends with `tell` (to this process) or `tell_all`."""
        self._handlers.setdefault(kind, []).append(handler)

    def tell(self, process: str, message: dict) -> None:
        """Send `message` (its "type" names the handler) to one other process."""
        self.relay.send(TO_PREFIX + process, orjson.dumps(message))

    def tell_all(self, message: dict) -> None:
        """Send `message` to every other process."""
        self.relay.send(CLUSTER_CHANNEL, orjson.dumps(message))

    def state(self) -> dict:
        """What this process's Monitors are told: whether the other processes' live
        updates reach them (docs/protocol.md, `cluster`)."""
        return {"type": "cluster", "live": self.relay.connected}

    def _tell_state(self) -> None:
        self._deliver("monitor", self.state())

    def _connected(self) -> None:
        """Connected to Redis (again): say what this process holds, ask for the others',
        and tell this process's Monitors that live updates flow."""
        self._state_all()
        self.tell_all({"type": "wanted"})
        self._tell_state()

    def _state_all(self) -> None:
        for statement in self.statements:
            self.tell_all(statement())

    def _arrived(self, origin: str, channel: str, message: dict) -> None:
        """An event another process published."""
        self._heard.add(origin)
        if channel == CLUSTER_CHANNEL or channel.startswith(TO_PREFIX):
            if channel == CLUSTER_CHANNEL or channel == self._to_me:
                self._handle(origin, message)
            return
        if channel == "monitor":
            self.remote.seen(origin, message)
            if message.get("type") == "roles":  # the others' roles: this process says the union
                self.on_roles()
                return
        self._deliver(channel, message)

    def _handle(self, origin: str, message: dict) -> None:
        handlers = self._handlers.get(message["type"])
        if handlers is None:
            log.warning("process %s sent a message of unknown type %r", origin,
                        message["type"])
        for handler in handlers or ():
            handler(origin, message)

    def _entries_of(self, origin: str, message: dict) -> None:
        """`origin`'s whole list of entries."""
        changed, gone = self.remote.replace(origin, message["sessions"])
        self._tell_monitors(changed, gone)

    def _tell_monitors(self, changed: list[dict], gone: list[str]) -> None:
        for entry in changed:
            self._deliver("monitor", {"type": "session", "session": entry})
        for entry_id in gone:
            self._deliver("monitor", {"type": "session_gone", "id": entry_id})
        if changed or gone:
            self.on_roles()

    async def beat(self) -> None:
        """The heartbeat (a periodic job); the entries of processes no longer alive go."""
        if not await self.presence.beat():
            return  # Redis unreachable: who is alive is not known
        gone = (self._heard | self.remote.processes()) - set(self.presence.alive)
        for process in sorted(gone):
            log.warning("process %s is gone: its sessions are offline until they are back",
                        process)
            self._heard.discard(process)
            self._tell_monitors(self.remote.orphan(process), [])
            for forget in list(self.on_gone):
                forget(process)
        self._tell_monitors([], self.remote.forget_orphans())
        if gone:  # a process back at once under the same name says what it holds again
            self.tell_all({"type": "wanted"})

    async def start(self) -> None:
        """Say this process is alive and start relaying. A Redis that is down does not
        stop the start: the relay keeps trying and /metrics says it is disconnected."""
        await self.beat()
        self.load.start()
        self.relay.start()

    async def stop(self) -> None:
        await self.relay.stop()
        await self.load.stop(REDIS_TIMEOUT_SECONDS)
        await self.presence.leave()
        await self._redis.aclose()

    def figures(self) -> dict[str, int]:
        return {**self.relay.figures, **self.load.figures, "redis_connected": int(self.relay.connected),
                "processes": len(self.presence.alive)}
