"""Messages left when nobody can chat: in mode help, with no matching operator
available, or behind a queue longer than `routing: queue limit`, a user may leave a
message and how to reach them. It is stored twice over: as a message of their
conversation (so the transcript and the reply read as one chat) and as a record the
Monitor lists until an operator marks it handled. The reply is an operator message
in that conversation: the user's page shows it whenever it comes back."""

from __future__ import annotations

from typing import Protocol

from state.livehelp.chat import ChatRules, operator_message, user_message
from state.livehelp.entries import visitor_label
from state.livehelp.errors import LiveHelpError
from state.livehelp.hub import Hub
from state.livehelp.records import Client, LiveSession, Operator
from state.livehelp.routing import Routing
from state.store.base import ChatMessage, LeftMessage, Store


class LeftSettings(Protocol):
    queue_limit: int


class LeftConfig(Protocol):
    routing: LeftSettings


class LeftModel(Protocol):
    store: Store
    hub: Hub
    config: LeftConfig
    routing: Routing
    chat: ChatRules

    def client(self, key: str) -> Client: ...

    def session_of(self, client: Client) -> LiveSession: ...

    def operator(self, user_id: str) -> Operator: ...

    def available_operators(self, roles: list[str] | tuple[str, ...]) -> list[Operator]: ...


def left_event(message: LeftMessage) -> dict:
    """A message left, as the Monitor shows it (docs/protocol.md, "Messages left")."""
    return {"id": message.id, "session": message.session_id, "interview": message.interview,
            "conversation": message.conversation, "text": message.text,
            "contact": message.contact, "name": message.name,
            # As the person's Monitor entry names them (help mode: the conversation is
            # their client key).
            "label": message.name or visitor_label(message.conversation),
            "created": message.created.isoformat()}


class LeftMessages:
    def __init__(self, model: LeftModel) -> None:
        self.model = model

    def may_leave(self, client: Client) -> bool:
        """Nobody can chat with this user now, or not for a long while."""
        session = self.model.session_of(client)
        settings = session.settings
        if not (settings.chat_offered and settings.needs_operator) or session.blocked:
            return False
        if not self.model.available_operators(settings.partner_roles):
            return True
        place = self.model.routing.position(client)
        return place is not None and place > self.model.config.routing.queue_limit

    async def leave(self, key: str, client_id: str, text: str, contact: str) -> ChatMessage:
        """`contact`: checked by the caller (an email address or E.164 number, or "");
        returns the message as stored in the conversation."""
        model = self.model
        model.chat.check_text(text)
        client = model.client(key)
        if not self.may_leave(client):
            raise LiveHelpError("not_now", "An operator can chat with you now: "
                                "start a chat instead.")
        model.chat.limits.check_rate(client.participant)
        session = model.session_of(client)
        conversation = session.conversation_of(client)
        stored = await model.chat.deliver(
            user_message(client, conversation, client_id, text), operators_chat=True)
        record = LeftMessage(session.id, session.interview, conversation, text, contact,
                             client.name, id=f"{conversation}#{stored.seq}")
        if await model.store.get_left_message(record.id) is None:  # a resend: stored once
            await model.store.add_left_message(record)
            model.hub.publish("monitor", {"type": "message_left", "message": left_event(record)})
        return stored

    async def reply(self, user_id: str, message_id: str, client_id: str,
                    text: str) -> ChatMessage:
        """An operator answers a message left, in its conversation."""
        model = self.model
        model.chat.check_text(text)
        record = await self._record(message_id)
        model.chat.limits.check_rate(f"u:{user_id}")
        message = operator_message(model.operator(user_id), record.conversation,
                                   record.session_id, client_id, text)
        return await model.chat.deliver(message, operators_chat=True)

    async def handle(self, user_id: str, message_id: str) -> LeftMessage:
        record = await self._record(message_id)
        by = self.model.operator(user_id).user.email
        await self.model.store.mark_left_message_handled(record.id, by)
        self.model.hub.publish("monitor", {"type": "message_left_handled", "id": record.id})
        return record

    async def _record(self, message_id: str) -> LeftMessage:
        record = await self.model.store.get_left_message(message_id)
        if record is None:
            raise LiveHelpError("unknown_message", "There is no such message left.")
        return record
