"""Chat rules: who may send, limits, storing before delivering, delivery, paged
history, typing indicators."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from state.livehelp.attention import Attention
from state.livehelp.errors import LiveHelpError
from state.livehelp.hub import Hub
from state.livehelp.limits import ChatLimits, ChatLimitSettings
from state.livehelp.records import Client, LiveSession, Operator
from state.livehelp.routing import Routing
from state.store.base import ChatMessage, Store, StoreUnavailable


class ChatSettings(Protocol):
    max_chat_chars: int
    limits: ChatLimitSettings


class ChatModel(Protocol):
    """What the chat rules read and call on the model."""

    store: Store
    hub: Hub
    config: ChatSettings
    routing: Routing
    attention: Attention
    clock: Callable[[], float]

    def client(self, key: str) -> Client: ...

    def session_of(self, client: Client) -> LiveSession: ...

    def operator(self, user_id: str) -> Operator: ...

    def publish_client(self, client: Client) -> None: ...

    def publish_session(self, session_id: str, states: bool = True) -> None: ...

    def serve_line(self) -> None: ...


@dataclass
class HistoryPage:
    """At most a page of a conversation's chat events, oldest first, and whether more
    remain after them."""

    conversation: str
    events: list[dict]
    more: bool

    def messages(self) -> list[dict]:
        """What a socket sends: the events, then, when more remain, `history_more`
        saying where the page continues (docs/protocol.md)."""
        if not self.more:
            return self.events
        return [*self.events, {"type": "history_more", "conversation": self.conversation,
                               "after": self.events[-1]["seq"]}]


class ChatRules:
    """Chat messages and typing indicators between interviewees and operators."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        # Both read through the model when used: a test may give it another clock or store.
        self.limits = ChatLimits(
            model.config.limits,
            lambda conversation: self.model.store.conversation_characters(conversation),
            lambda: self.model.clock())

    async def history(self, conversation: str, after_seq: int,
                      limit: int | None = None) -> HistoryPage:
        """The messages after `after_seq`, oldest first: at most `limit` (default
        `limits: history page messages`), read in one bounded query."""
        if limit is None:
            limit = self.model.config.limits.history_page_messages
        # One more than the page says whether more remain, without a second query.
        messages = await self.model.store.get_messages(conversation, after_seq, limit + 1)
        return HistoryPage(conversation, [chat_event(m) for m in messages[:limit]],
                           len(messages) > limit)

    def check_text(self, text: str) -> None:
        if not text.strip():
            raise LiveHelpError("bad_field", "A message cannot be empty.")
        if len(text) > self.model.config.max_chat_chars:
            raise LiveHelpError("bad_field", "This message is too long: at most "
                                f"{self.model.config.max_chat_chars:,} characters.")

    async def user_chat(self, key: str, client_id: str, text: str) -> ChatMessage:
        self.check_text(text)
        client = self.model.client(key)
        session = self.model.session_of(client)
        if not session.settings.chat_offered:
            raise LiveHelpError("chat_unavailable", "Live chat is not offered in this interview.")
        if not client.chat_active:
            raise LiveHelpError("not_active", "Activate chat before sending messages.")
        self.limits.check_rate(client.participant)
        if session.settings.needs_operator:
            if session.blocked:
                raise LiveHelpError("blocked", "Chat with operators is not possible right now.")
            routing = self.model.routing
            routing.route(client)
            if not client.operator_id and not routing.queued(client):
                raise LiveHelpError("no_operator", "No operator is available to chat right now.")
        message = user_message(client, session.conversation_of(client), client_id, text)
        return await self.deliver(message, session.settings.operators_chat)

    async def operator_chat(self, user_id: str, key: str, client_id: str, text: str) -> ChatMessage:
        self.check_text(text)
        client = self.model.client(key)
        if not self.model.routing.may_chat(client):
            raise LiveHelpError("not_chatting", "This user is not in a chat with operators.")
        self.limits.check_rate(f"u:{user_id}")
        operator = self.model.operator(user_id)
        if client.operator_id != user_id:
            self.model.routing.assign(client, operator)
            self.model.publish_client(client)
            self.model.serve_line()  # the previous holder's place
        session = self.model.session_of(client)
        message = operator_message(operator, session.conversation_of(client), session.id,
                                   client_id, text)
        return await self.deliver(message, session.settings.operators_chat)

    async def deliver(self, message: ChatMessage, operators_chat: bool) -> ChatMessage:
        """Store, then deliver to the conversation's people (and to the Monitor when
        `operators_chat`); a resend returns the stored one and delivers nothing."""
        quota, conversation, size = self.limits.quota, message.conversation, len(message.text)
        await quota.reserve(conversation, size)
        try:
            stored, is_new = await self.model.store.add_message(message)
        except BaseException:
            quota.release(conversation, size)
            raise
        if not is_new:  # a resend: stored before, counted before
            quota.release(conversation, size)
            return stored
        hub = self.model.hub
        event = chat_event(stored)
        if stored.conversation == stored.session_id:  # peer modes: everyone in the session
            hub.publish(f"session:{stored.session_id}", event)
        else:
            hub.publish(f"client:{stored.conversation}", event)
        thread = self.model.attention.stored(stored, operators_chat)
        if operators_chat:
            hub.publish("monitor", {**event, "answered_seq": thread.answered_seq})
        else:  # Monitors get no chat of a peer conversation: its entry's last message
            self.model.publish_session(stored.session_id, states=False)
        return stored

    async def load_thread(self, conversation: str, operators_answer: bool) -> None:
        """What the store holds of a conversation this process has not seen yet: its
        last message and how far operators answered it (attention.py). A store that is
        down leaves the thread unknown, to be learnt from the next message."""
        if self.model.attention.known(conversation):
            return
        store = self.model.store
        try:
            last, answered = await store.conversation_tail(conversation)
            if last is not None and not operators_answer:
                answered = last.seq
            first = None
            if last is not None and answered < last.seq:
                first = (await store.get_messages(conversation, answered, 1))[0]
        except StoreUnavailable:
            return
        self.model.attention.load(conversation, last, answered, first)

    def typing(self, key: str, sender: str, is_typing: bool, from_operator: bool) -> None:
        client = self.model.client(key)
        event = {"type": "typing", "key": key,
                 "conversation": self.model.session_of(client).conversation_of(client),
                 "name": sender, "typing": bool(is_typing)}
        self.model.hub.publish(f"client:{key}" if from_operator else "monitor", event)


def user_message(client: Client, conversation: str, client_id: str, text: str) -> ChatMessage:
    named = bool(client.email)
    return ChatMessage(
        conversation=conversation, session_id=client.session_id,
        sender_key=client.participant, sender_role="user", text=text, client_id=client_id,
        sender_email=client.email, sender_first_name=client.first_name if named else None,
        sender_last_name=client.last_name if named else None)


def operator_message(operator: Operator, conversation: str, session_id: str, client_id: str,
                     text: str) -> ChatMessage:
    user = operator.user
    return ChatMessage(
        conversation=conversation, session_id=session_id, sender_key=f"u:{user.id}",
        sender_role="operator", text=text, client_id=client_id, sender_email=user.email,
        sender_first_name=user.first_name, sender_last_name=user.last_name)


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
