"""Ending and passing on a help conversation: an operator closes it (the user is
told and may start again), or transfers it to a colleague or back to the queue with
a note for whoever takes it next. Only the operator holding it may, or an admin.
Each handover is stored before it takes effect, and read back when the user's page
first connects after a restart: a closed chat stays closed, a transferred one goes
back to its new operator if they are there, with its note."""

from __future__ import annotations

from typing import Protocol

from state.livehelp.attention import Attention
from state.livehelp.errors import LiveHelpError
from state.livehelp.records import Client, LiveSession, Operator
from state.livehelp.routing import Routing
from state.store.base import Handover as StoredHandover
from state.store.base import Store, StoreUnavailable

# A note travels with the conversation to the next operator; a few lines, not a file.
MAX_NOTE_CHARS = 1000


class HandoverModel(Protocol):
    routing: Routing
    store: Store
    attention: Attention

    def client(self, key: str) -> Client: ...

    def session_of(self, client: Client) -> LiveSession: ...

    def operator(self, user_id: str) -> Operator: ...

    def find_operator(self, user_id: str) -> Operator | None: ...

    def available_operators(self, roles: tuple[str, ...]) -> list[Operator]: ...

    def end_chat(self, client: Client) -> None: ...

    def publish_session(self, session_id: str) -> None: ...

    def serve_line(self) -> None: ...


class Handover:
    def __init__(self, model: HandoverModel) -> None:
        self.model = model

    def _held(self, user_id: str, key: str, may_any: bool) -> Client:
        """The conversation `user_id` may close or pass on."""
        client = self.model.client(key)
        if not self.model.routing.may_chat(client):
            raise LiveHelpError("not_chatting", "This user is not in a chat with operators.")
        if client.operator_id != user_id and not may_any:
            raise LiveHelpError("not_yours", "Only the operator holding this conversation, "
                                "or an admin, can close or transfer it.")
        return client

    def candidates(self, user_id: str, key: str) -> list[dict]:
        """Who the conversation could go to now: available operators other than its
        holder who serve one of its roles and have a place (for the transfer dialog)."""
        client = self.model.client(key)
        roles = self.model.session_of(client).settings.partner_roles
        routing = self.model.routing
        return [{"id": op.user.id, "name": op.name, "conversations": op.load,
                 "capacity": routing.capacity_of(op)}
                for op in sorted(self.model.available_operators(roles), key=lambda o: o.name)
                if op.user.id != user_id and self._refusal_to_take(op, client) is None]

    def _refusal_to_take(self, target: Operator | None, client: Client) -> LiveHelpError | None:
        """Why `target` cannot take `client`'s conversation now, or None when they can."""
        roles = self.model.session_of(client).settings.partner_roles
        routing = self.model.routing
        if target is None or not target.available:
            return LiveHelpError("not_available", "That operator is not available now.")
        if target.user.id == client.operator_id:
            return LiveHelpError("bad_field", f"{target.name} already has this conversation.")
        if not target.serves(roles):
            return LiveHelpError("not_serving", f"{target.name} does not serve the roles "
                                 f"this conversation asks for ({', '.join(roles)}).")
        if not routing.has_place(target):
            return LiveHelpError("no_place", f"{target.name} has no free place "
                                 f"({routing.capacity_of(target)} conversations).")
        return None

    async def restore(self, client: Client) -> None:
        """The client's page connected for the first time since this process started:
        what was last done with its conversation, as the store kept it."""
        if client.restored:
            return
        conversation = self.model.session_of(client).conversation_of(client)
        if self.model.attention.surely_empty(conversation):
            client.restored = True  # nothing was ever handed over
            return
        try:
            kept = await self.model.store.get_handover(conversation)
        except StoreUnavailable:
            return  # read again when the page next connects
        client.restored = True
        if kept is None or client.chat_active:
            return
        client.closed_by = kept.closed_by
        client.preferred_operator = kept.operator_id
        if kept.transfer_from:
            client.transfer = {"from": kept.transfer_from, "note": kept.transfer_note}

    async def _keep(self, client: Client, **done: str | None) -> None:
        conversation = self.model.session_of(client).conversation_of(client)
        await self.model.store.save_handover(StoredHandover(conversation, **done))

    async def close(self, user_id: str, key: str, may_any: bool = False) -> Client:
        client = self._held(user_id, key, may_any)
        closed_by = self.model.operator(user_id).user.first_name or "The operator"
        await self._keep(client, closed_by=closed_by)
        self.model.end_chat(client)
        client.closed_by = closed_by
        self.model.publish_session(client.session_id)
        self.model.serve_line()
        return client

    async def transfer(self, user_id: str, key: str, to: str | None, note: str = "",
                       may_any: bool = False) -> Client:
        """To operator `to`, or back to the head of the queue when `to` is None."""
        client = self._held(user_id, key, may_any)
        note = note.strip()
        if len(note) > MAX_NOTE_CHARS:
            raise LiveHelpError("bad_field", f"A note holds at most {MAX_NOTE_CHARS:,} characters.")
        routing = self.model.routing
        sender = self.model.operator(user_id)
        target = None
        if to is not None:
            target = self.model.find_operator(to)
            refusal = self._refusal_to_take(target, client)
            if refusal is not None:
                raise refusal
        await self._keep(client, operator_id=to, transfer_from=sender.name, transfer_note=note)
        if target is None:
            routing.requeue(client)
        else:
            routing.assign(client, target, capped=True)
        client.transfer = {"from": sender.name, "note": note}
        self.model.publish_session(client.session_id)
        self.model.serve_line()
        return client
