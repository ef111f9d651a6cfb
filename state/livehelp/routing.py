"""Routing: which operator holds each help conversation, and who waits for one.

An activated conversation in a mode with operators goes to a matching available
operator with a free place (fewer conversations than their capacity): the one with
the fewest conversations, then the one whose last assignment is oldest, then by
email so that the choice is stable. When no matching operator has a place, the
user waits in the queue of their role set, oldest first; whenever a place frees
(a chat ends, an operator becomes available, serves more roles or takes more), the
oldest waiting users whose roles match are assigned at once (`route_waiting`).

The assignment lives on the records: `Client.operator_id` and
`Operator.conversations`, changed only here; the queue lives only here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from state.livehelp.records import Client, LiveSession, Operator


class RoutingSettings(Protocol):
    capacity: int
    max_capacity: int
    estimate_samples: int


class RoutingConfig(Protocol):
    routing: RoutingSettings


class RoutingModel(Protocol):
    """What routing reads on the model."""

    config: RoutingConfig
    clock: Callable[[], float]

    def session_of(self, client: Client) -> LiveSession: ...

    def find_client(self, key: str) -> Client | None: ...

    def find_operator(self, user_id: str) -> Operator | None: ...

    def available_operators(self, roles: Iterable[str] | None) -> list[Operator]: ...

    def operators_changed(self) -> None: ...

    def all_operators(self) -> list[Operator]: ...


class Claims(Protocol):
    """Cluster mode: operators' places held across processes, claimed in Redis
    (state/cluster/load.py). A capped claim another process beat comes back as
    `Routing.refused`; `capacity` None claims whatever the load (take over, a chat)."""

    def claim(self, key: str, operator_id: str, capacity: int | None) -> None: ...

    def release(self, key: str, operator_id: str) -> None: ...


class NoClaims:
    """One process: the assignment here is the only one."""

    def claim(self, key: str, operator_id: str, capacity: int | None) -> None:
        pass

    def release(self, key: str, operator_id: str) -> None:
        pass


@dataclass
class Waiting:
    line: tuple[str, ...]  # the role set whose line it waits in
    since: float  # the model's clock
    since_iso: str  # the same moment for people
    not_to: str | None = None  # the operator who handed it back: someone else, please


def role_set(roles: Iterable[str]) -> tuple[str, ...]:
    """The queue a conversation waits in: one per set of roles asked for."""
    return tuple(sorted(set(roles)))


class Routing:
    def __init__(self, model: RoutingModel) -> None:
        self.model = model
        self._queue: dict[str, Waiting] = {}  # client key -> since when; in arrival order
        self._places: dict[str, int] | None = None  # positions(), until the queue changes
        self._last_assigned: dict[str, float] = {}  # operator id -> when
        # When the recent departures from the line (to an operator) happened.
        self._departures: deque[float] = deque(maxlen=model.config.routing.estimate_samples)
        self.claims: Claims = NoClaims()

    # ------------------------------------------------------------------ reading
    def may_chat(self, client: Client) -> bool:
        """Operators may chat with `client` now."""
        return client.chat_active and self.model.session_of(client).operators_chat

    def ceiling(self) -> int:
        """The most conversations an operator may choose to hold at once."""
        return self.model.config.routing.max_capacity

    def capacity_of(self, operator: Operator) -> int:
        settings = self.model.config.routing
        return min(operator.settings.capacity or settings.capacity, settings.max_capacity)

    def has_place(self, operator: Operator) -> bool:
        return operator.load < self.capacity_of(operator)

    def queued(self, client: Client) -> bool:
        return client.key in self._queue

    def waiting(self, client: Client) -> Waiting | None:
        return self._queue.get(client.key)

    def positions(self) -> dict[str, int]:
        """Client key -> place in its line (1: next), for everyone waiting."""
        if self._places is None:
            counts: dict[tuple[str, ...], int] = {}
            self._places = {}
            for key, waiting in self._queue.items():
                counts[waiting.line] = counts.get(waiting.line, 0) + 1
                self._places[key] = counts[waiting.line]
        return self._places

    def position(self, client: Client) -> int | None:
        return self.positions().get(client.key)

    def estimate_seconds(self, position: int) -> float | None:
        """About how long the user at `position` still waits: the mean time between
        the recent departures from the line, times `position` (a moving average over
        `routing: estimate samples` departures); None until two have left."""
        if len(self._departures) < 2:
            return None
        gap = (self._departures[-1] - self._departures[0]) / (len(self._departures) - 1)
        return gap * position

    # ------------------------------------------------------------------ changing
    def route(self, client: Client) -> bool:
        """Give an active, unassigned conversation to the best matching operator with
        a place, or put it in line; True when it was assigned now."""
        if client.operator_id or not self.may_chat(client):
            return False
        if client.key in self._queue:
            return False  # it waits its turn: route_waiting() serves the line in order
        chosen = self._best_for(client)
        if chosen is None:
            self._join(client)
            return False
        self.assign(client, chosen, capped=True)
        return True

    def route_waiting(self) -> list[Client]:
        """A place may have freed: serve the line oldest first; the clients assigned."""
        assigned = []
        for key in list(self._queue):
            if not any(self.has_place(op) for op in self.model.available_operators(None)):
                break  # no place anywhere: the rest of the line waits as it is
            client = self.model.find_client(key)
            if client is None or not self.may_chat(client):
                self._leave(key)
                continue
            chosen = self._best_for(client)
            if chosen is not None:
                self.assign(client, chosen, capped=True)
                assigned.append(client)
        return assigned

    def assign(self, client: Client, operator: Operator, capped: bool = False) -> None:
        """`capped`: only within the operator's capacity (chosen by routing, a transfer),
        which in cluster mode another process may have filled meanwhile (`refused`)."""
        waiting = self._leave(client.key)
        self.unassign(client)
        now = self.model.clock()
        if waiting is not None:
            self._departures.append(now)
        client.operator_id = operator.user.id
        client.preferred_operator = None
        operator.conversations.add(client.key)
        self._last_assigned[operator.user.id] = now
        self.claims.claim(client.key, operator.user.id,
                          self.capacity_of(operator) if capped else None)
        self.model.operators_changed()

    def unassign(self, client: Client) -> None:
        """The conversation has no operator and waits for none (the caller serves the
        line with route_waiting() once the change is complete)."""
        self._leave(client.key)
        operator = self.model.find_operator(client.operator_id or "")
        if operator and client.key in operator.conversations:
            operator.conversations.discard(client.key)
            self.claims.release(client.key, operator.user.id)
            self.model.operators_changed()
        client.operator_id = None

    def refused(self, key: str, operator_id: str, held: int) -> Client | None:
        """Cluster mode: another process took `operator_id`'s last place first (they hold
        `held` places in all); the conversation waits again, first in its line (the
        client, when it changed)."""
        operator = self.model.find_operator(operator_id)
        if operator is not None:
            operator.held_at_least = held
        client = self.model.find_client(key)
        if client is None or client.operator_id != operator_id:
            return None  # it moved on meanwhile
        self.requeue(client, someone_else=False)
        return client

    def requeue(self, client: Client, someone_else: bool = True) -> None:
        """Back to the head of its line; when `someone_else`, for another operator than
        the one who handed it back. It counts as waiting since just before the head of the
        line did, so that every Monitor, which orders the line by `queued_since`, shows it
        first."""
        operator_id = client.operator_id
        self.unassign(client)
        self._join(client)
        waiting = self._queue.pop(client.key)
        head = next((w for w in self._queue.values() if w.line == waiting.line), None)
        if head is not None:
            earlier = datetime.fromisoformat(head.since_iso) - timedelta(milliseconds=1)
            waiting.since, waiting.since_iso = head.since, earlier.isoformat()
        waiting.not_to = operator_id if someone_else else None
        self._queue = {client.key: waiting, **self._queue}
        self._places = None

    def _leave(self, key: str) -> Waiting | None:
        self._places = None
        return self._queue.pop(key, None)

    def _join(self, client: Client) -> None:
        line = role_set(self.model.session_of(client).settings.partner_roles)
        self._queue[client.key] = Waiting(line, self.model.clock(), datetime.now(UTC).isoformat())
        self._places = None

    def _best_for(self, client: Client) -> Operator | None:
        roles = self.model.session_of(client).settings.partner_roles
        waiting = self._queue.get(client.key)
        not_to = waiting.not_to if waiting else None
        candidates = [op for op in self.model.available_operators(roles)
                      if self.has_place(op) and op.user.id != not_to]
        if not candidates:
            return None
        preferred = next((op for op in candidates
                          if op.user.id == client.preferred_operator), None)
        if preferred is not None:
            return preferred
        return min(candidates, key=lambda op: (
            op.load, self._last_assigned.get(op.user.id, float("-inf")),
            op.user.email))

    def assignments(self) -> list[tuple[str, str]]:
        """(client key, operator id) of every conversation assigned here."""
        return [(key, op.user.id) for op in self.model.all_operators()
                for key in sorted(op.conversations)]
