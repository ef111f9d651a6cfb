"""Routing: which operator holds each help conversation.

An active conversation in a mode with operators goes to the matching available
operator with the fewest conversations (ties: by email, so the choice is stable).
The assignment lives on the records: `Client.operator_id` and
`Operator.conversations`, changed only here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from state.livehelp.records import Client, LiveSession, Operator


class RoutingModel(Protocol):
    """What routing reads on the model."""

    def session_of(self, client: Client) -> LiveSession: ...

    def find_operator(self, user_id: str) -> Operator | None: ...

    def available_operators(self, roles: Iterable[str]) -> list[Operator]: ...

    def active_clients(self) -> Iterable[Client]:
        """Clients with chat turned on."""


class Routing:
    def __init__(self, model: RoutingModel) -> None:
        self.model = model

    def may_chat(self, client: Client) -> bool:
        """Operators may chat with `client` now."""
        return client.chat_active and self.model.session_of(client).operators_chat

    def route(self, client: Client) -> None:
        """Give an active, unassigned conversation to the least busy matching operator."""
        if client.operator_id or not self.may_chat(client):
            return
        session = self.model.session_of(client)
        candidates = self.model.available_operators(session.settings.partner_roles)
        if candidates:
            chosen = min(candidates, key=lambda op: (len(op.conversations), op.user.email))
            self.assign(client, chosen)

    def route_waiting(self) -> None:
        """Operators became available: give every waiting conversation a chance."""
        for client in self.model.active_clients():
            if not client.operator_id:
                self.route(client)

    def assign(self, client: Client, operator: Operator) -> None:
        self.unassign(client)
        client.operator_id = operator.user.id
        operator.conversations.add(client.key)

    def unassign(self, client: Client) -> None:
        operator = self.model.find_operator(client.operator_id or "")
        if operator:
            operator.conversations.discard(client.key)
        client.operator_id = None
