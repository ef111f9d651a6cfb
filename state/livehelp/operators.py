"""Operator rules: connecting, availability, roles, phone, taking a conversation over."""

from __future__ import annotations

import time
from typing import Protocol

from state.livehelp.attention import Attention
from state.livehelp.errors import LiveHelpError
from state.livehelp.hub import Hub
from state.livehelp.records import Client, Operator
from state.livehelp.routing import Routing
from state.store.base import OperatorSettings, Store, User


def user_fields(user: User) -> dict:
    """What another process needs to know of an operator's account: never the password
    hash (cluster mode: reports, and commands run at a session's home)."""
    return {"id": user.id, "email": user.email, "first_name": user.first_name,
            "last_name": user.last_name, "privileges": user.privileges}


def user_of(fields: dict) -> User:
    """The account `user_fields` described."""
    return User(password_hash="", **fields)


class OperatorModel(Protocol):
    """What the operator rules read and call on the model."""

    store: Store
    hub: Hub
    routing: Routing
    attention: Attention

    def conversation_listed(self, conversation: str) -> bool: ...

    def client(self, key: str) -> Client: ...

    def operator(self, user_id: str) -> Operator: ...

    def find_operator(self, user_id: str) -> Operator | None: ...

    def add_operator(self, user: User, settings: OperatorSettings) -> Operator: ...

    def publish_client(self, client: Client) -> None: ...

    def publish_everyone(self) -> None: ...

    def serve_line(self) -> None: ...

    def monitor_snapshot(self, operator_id: str) -> dict: ...

    def all_operators(self) -> list[Operator]: ...

    def operators_changed(self) -> None: ...


class OperatorRules:
    """What operators do on the Monitor, as far as the model is concerned."""

    def __init__(self, model: OperatorModel) -> None:
        self.model = model

    async def connected(self, user: User) -> Operator:
        """A Monitor socket of `user` opened."""
        operator = self.model.find_operator(user.id)
        if operator is None:
            settings = await self.model.store.get_operator_settings(user.id)
            operator = self.model.add_operator(user, settings)
        operator.user = user
        operator.sockets += 1
        self.model.serve_line()
        self.model.publish_everyone()
        self.model.operators_changed()
        return operator

    def disconnected(self, user_id: str) -> None:
        operator = self.model.find_operator(user_id)
        if operator is None:
            return
        operator.sockets = max(operator.sockets - 1, 0)
        if operator.sockets == 0:
            self.model.publish_everyone()
            self.model.operators_changed()

    async def set_status(self, user_id: str, available: bool) -> None:
        self.model.operator(user_id).settings.available = bool(available)
        await self._settings_changed(user_id, serving_changed=True)

    async def set_roles(self, user_id: str, roles: list[str]) -> None:
        self.model.operator(user_id).settings.roles = sorted(set(roles))
        await self._settings_changed(user_id, serving_changed=True)

    async def set_capacity(self, user_id: str, capacity: int) -> None:
        """How many conversations the operator takes at once, within the ceiling."""
        ceiling = self.model.routing.ceiling()
        if not 1 <= capacity <= ceiling:
            raise LiveHelpError("bad_capacity",
                                f"Choose from 1 to {ceiling} conversations at once.")
        self.model.operator(user_id).settings.capacity = capacity
        await self._settings_changed(user_id, serving_changed=True)

    async def set_phone(self, user_id: str, phone: str) -> None:
        self.model.operator(user_id).settings.phone = phone
        await self._settings_changed(user_id, serving_changed=False)

    async def _settings_changed(self, user_id: str, serving_changed: bool) -> None:
        """Save the operator's settings; when whom they serve changed, route waiting
        users and tell every page; the operator's own pages get a fresh snapshot."""
        operator = self.model.operator(user_id)
        operator.settings_stamp = time.time()
        await self.model.store.save_operator_settings(operator.settings)
        self.model.operators_changed()
        if serving_changed:
            self.model.serve_line()
            self.model.publish_everyone()
        self.model.hub.publish(f"operator:{user_id}", self.model.monitor_snapshot(user_id))

    def take(self, user_id: str, key: str) -> None:
        """An operator takes over a conversation (from nobody or from another operator)."""
        client = self.model.client(key)
        if not self.model.routing.may_chat(client):
            raise LiveHelpError("not_chatting", "The user has not activated chat with operators.")
        self.model.routing.assign(client, self.model.operator(user_id))
        self.model.publish_client(client)
        self.model.serve_line()  # the previous holder's place

    def read(self, user_id: str, conversation: str, seq: int) -> None:
        """The operator has seen a listed conversation up to `seq`: their mark, on all
        their Monitor pages."""
        if not self.model.conversation_listed(conversation):
            raise LiveHelpError("unknown_conversation", "That conversation is not listed.")
        mark = self.model.attention.mark_read(user_id, conversation, seq)
        self.model.hub.publish(f"operator:{user_id}",
                               {"type": "read", "conversation": conversation, "seq": mark})

    # ------------------------------------------------------------------ cluster mode
    def report(self) -> list[dict]:
        """What this process tells the others of its operators: each one connected here
        or holding a conversation of a session here, with their settings (and when they
        last changed here) and those numbers."""
        return [{"user": user_fields(op.user),
                 "settings": {"available": op.settings.available, "roles": op.settings.roles,
                              "phone": op.settings.phone, "capacity": op.settings.capacity},
                 "stamp": op.settings_stamp, "sockets": op.sockets,
                 "load": len(op.conversations)}
                for op in self.model.all_operators() if op.sockets or op.conversations]

    def elsewhere(self, process: str, report: list[dict]) -> None:
        """`process`'s report (see `report`; [] when it is gone): its operators count as
        connected and loaded as it says, and newer settings replace older ones. Waiting
        users are served; when whom operators serve changed, every page is told, as
        after a change here (a change of load alone changes no page)."""
        before = {op.user.id: (op.available, tuple(op.settings.roles))
                  for op in self.model.all_operators()}
        reported = set()
        for item in report:
            user = user_of(item["user"])
            reported.add(user.id)
            operator = self.model.find_operator(user.id)
            if operator is None:
                operator = self.model.add_operator(user, OperatorSettings(user.id))
            if item["stamp"] >= operator.settings_stamp:
                operator.settings = OperatorSettings(user.id, **item["settings"])
                operator.settings_stamp = item["stamp"]
            operator.elsewhere[process] = (item["sockets"], item["load"])
        for operator in self.model.all_operators():
            if process in operator.elsewhere and operator.user.id not in reported:
                del operator.elsewhere[process]
            operator.held_at_least = 0  # the reports say again (routing.py, `refused`)
        self.model.serve_line()
        if any(before.get(op.user.id) != (op.available, tuple(op.settings.roles))
               for op in self.model.all_operators()):
            self.model.publish_everyone()
