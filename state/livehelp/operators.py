"""Operator rules of the live-help model: connecting, availability, roles, phone,
taking a conversation over.

A mixin of `state.livehelp.LiveHelp` (it uses the model's indexes, routing and
publishing); kept apart so each file stays about one thing.
"""

from __future__ import annotations

from state.livehelp.errors import LiveHelpError
from state.livehelp.records import Operator
from state.store.base import User


class OperatorRules:
    """What operators do on the Monitor, as far as the model is concerned."""

    async def operator_connected(self, user: User) -> Operator:
        operator = self.operators.get(user.id)
        if operator is None:
            settings = await self.store.get_operator_settings(user.id)
            operator = self.operators.setdefault(user.id, Operator(user, settings))
        operator.user = user
        operator.sockets += 1
        self._publish_everyone()
        self._route_waiting()
        return operator

    def operator_disconnected(self, user_id: str) -> None:
        operator = self.operators.get(user_id)
        if operator is None:
            return
        operator.sockets = max(operator.sockets - 1, 0)
        if operator.sockets == 0:
            self._publish_everyone()

    async def set_operator_status(self, user_id: str, available: bool) -> None:
        self.operators[user_id].settings.available = bool(available)
        await self._settings_changed(user_id, availability=True)

    async def set_operator_roles(self, user_id: str, roles: list[str]) -> None:
        self.operators[user_id].settings.roles = sorted(set(roles))
        await self._settings_changed(user_id, availability=True)

    async def set_operator_phone(self, user_id: str, phone: str) -> None:
        self.operators[user_id].settings.phone = phone
        await self._settings_changed(user_id, availability=False)

    async def _settings_changed(self, user_id: str, availability: bool) -> None:
        """Save the operator's settings; when whom they serve changed, route waiting
        users and tell every page; the operator's own pages get a fresh snapshot."""
        await self.store.save_operator_settings(self.operators[user_id].settings)
        if availability:
            self._route_waiting()
            self._publish_everyone()
        self.hub.publish(f"operator:{user_id}", self.monitor_snapshot(user_id))

    def _route_waiting(self) -> None:
        for client in self.clients.values():
            if client.chat_active and not client.operator_id:
                self._route(client)

    def take(self, user_id: str, key: str) -> None:
        """An operator takes over a conversation (from nobody or from another operator)."""
        client = self._client(key)
        if not self.operator_may_chat(client):
            raise LiveHelpError("not_chatting", "The user has not activated chat with operators.")
        self._assign(client, self.operators[user_id])
        self._publish_client(client)
