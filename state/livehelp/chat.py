"""Chat rules of the live-help model: who may send, storing, delivery, typing.

A mixin of `state.livehelp.LiveHelp` (it uses the model's indexes and routing);
kept apart so each file stays about one thing.
"""

from __future__ import annotations

from state.livehelp.errors import LiveHelpError
from state.livehelp.records import LiveSession
from state.store.base import ChatMessage

# History sent to a page that has seen nothing of a conversation yet.
HISTORY_LIMIT = 500


class ChatRules:
    """Chat messages and typing indicators between interviewees and operators."""

    async def history(self, conversation: str, after_seq: int) -> list[dict]:
        messages = await self.store.get_messages(conversation, after_seq)
        return [chat_event(m) for m in messages[-HISTORY_LIMIT:]]

    async def user_chat(self, key: str, client_id: str, text: str) -> ChatMessage:
        client = self._client(key)
        session = self.sessions[client.session_id]
        if session.availability != "available":
            raise LiveHelpError("chat_unavailable", "Live chat is not offered in this interview.")
        if not client.chat_active:
            raise LiveHelpError("not_active", "Activate chat before sending messages.")
        if session.mode == "help":
            if session.blocked:
                raise LiveHelpError("blocked", "Chat with operators is not possible right now.")
            self._route(client)
            if not client.operator_id:
                raise LiveHelpError("no_operator", "No operator is available to chat right now.")
        user = client.email and (client.first_name, client.last_name)
        message = ChatMessage(
            conversation=self.conversation_of(client), session_id=session.id,
            sender_key=client.participant, sender_role="user", text=text, client_id=client_id,
            sender_email=client.email,
            sender_first_name=user[0] if user else None, sender_last_name=user[1] if user else None,
        )
        return await self._deliver(message, session)

    async def operator_chat(self, user_id: str, key: str, client_id: str, text: str) -> ChatMessage:
        client = self._client(key)
        if not self.operator_may_chat(client):
            raise LiveHelpError("not_chatting", "This user is not in a chat with operators.")
        operator = self.operators[user_id]
        if client.operator_id != user_id:
            self._assign(client, operator)
            self._publish_client(client)
        session = self.sessions[client.session_id]
        message = ChatMessage(
            conversation=self.conversation_of(client), session_id=session.id,
            sender_key=f"u:{user_id}", sender_role="operator", text=text, client_id=client_id,
            sender_email=operator.user.email, sender_first_name=operator.user.first_name,
            sender_last_name=operator.user.last_name,
        )
        return await self._deliver(message, session)

    async def _deliver(self, message: ChatMessage, session: LiveSession) -> ChatMessage:
        stored, is_new = await self.store.add_message(message)
        if is_new:
            event = chat_event(stored)
            if stored.conversation == session.id:  # peer modes: everyone in the session
                self.hub.publish(f"session:{session.id}", event)
            else:
                self.hub.publish(f"client:{stored.conversation}", event)
            if session.mode in ("help", "peerhelp"):
                self.hub.publish("monitor", event)
        return stored

    def typing(self, key: str, sender: str, is_typing: bool, from_operator: bool) -> None:
        client = self._client(key)
        event = {"type": "typing", "key": key, "conversation": self.conversation_of(client),
                 "name": sender, "typing": bool(is_typing)}
        if from_operator:
            self.hub.publish(f"client:{key}", event)
        else:
            self.hub.publish("monitor", event)


def chat_event(message: ChatMessage) -> dict:
    """The wire form of a stored chat message (see docs/protocol.md)."""
    name = message.sender_first_name or ("Operator" if message.sender_role == "operator" else "")
    return {
        "type": "chat",
        "conversation": message.conversation,
        "session": message.session_id,
        "seq": message.seq,
        "client_id": message.client_id,
        "sender": message.sender_key,
        "role": message.sender_role,
        "name": name,
        "text": message.text,
        "time": message.time.isoformat(),
    }
