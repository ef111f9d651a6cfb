"""The interviewee's WebSocket: chat state, activation, chat messages, typing."""

from __future__ import annotations

from typing import Any

import tornado.web

from handlers.base import BROWSER_COOKIE
from handlers.cobrowse_socket import UserCoBrowseMixin
from handlers.socket_base import LiveSocket, bool_field, seq_field, text_field
from state.livehelp.errors import LiveHelpError
from state.livehelp.records import Client
from state.livehelp.rules import LiveHelpSettings

CLIENT_ID_CHARS = 64


class UserSocket(UserCoBrowseMixin, LiveSocket):
    message_types = (frozenset({"hello", "activate", "deactivate", "chat", "typing"})
                     | UserCoBrowseMixin.cobrowse_types)
    client: Client | None = None

    async def get(self, session_id: str, *args: Any, **kwargs: Any) -> None:
        """Refuse before the upgrade unless this browser holds the session and live help is on."""
        if not self.may_use_session(session_id):
            raise tornado.web.HTTPError(403, "This browser has no access to that session.")
        record = await self.store.get_session(session_id)
        if record is None or not LiveHelpSettings.of(record.live_help).listed:
            raise tornado.web.HTTPError(403, "Live help is off for this session.")
        if self.current_user is None and self.get_signed_cookie(BROWSER_COOKIE) is None:
            # A socket cannot set cookies; the interview page gives the browser its id.
            raise tornado.web.HTTPError(403, "Open the interview page before its live help.")
        self.record = record
        await super().get(session_id, *args, **kwargs)

    def open(self, session_id: str) -> None:
        interview = self.interviews.get(self.record.interview)
        title = interview.title if interview else self.record.interview
        self.client = self.livehelp.client_connected(
            self.record, title, self.participant_key, self.current_user)
        self.subscribe(f"client:{self.client.key}")
        self.subscribe(f"session:{session_id}")
        self.send(self.livehelp.user_state(self.client))

    async def on_message(self, raw: str | bytes) -> None:
        if self.client is not None:
            self.livehelp.client_seen(self.client.key)
        await super().on_message(raw)

    async def on_hello(self, message: dict) -> None:
        after = seq_field(message.get("last_seq"), "last_seq")
        if message.get("active") is True and not self.client.chat_active:
            try:
                self.livehelp.activate(self.client.key)
            except LiveHelpError:
                pass  # the page shows the state it gets; nothing to reactivate into
        self.send(self.livehelp.user_state(self.client))
        conversation = self.livehelp.conversation_of(self.client)
        for event in await self.livehelp.chat.history(conversation, after):
            self.send(event)

    async def on_activate(self, message: dict) -> None:
        self.livehelp.activate(self.client.key)

    async def on_deactivate(self, message: dict) -> None:
        self.livehelp.deactivate(self.client.key)

    async def on_chat(self, message: dict) -> None:
        client_id = text_field(message, "client_id", CLIENT_ID_CHARS)
        text = text_field(message, "text", self.config.max_chat_chars)
        if not text.strip():
            raise LiveHelpError("bad_field", "A message cannot be empty.")
        stored = await self.livehelp.chat.user_chat(self.client.key, client_id, text)
        self.send({"type": "ack", "client_id": client_id, "seq": stored.seq,
                   "conversation": stored.conversation})

    async def on_typing(self, message: dict) -> None:
        name = self.current_user.first_name if self.current_user else ""
        self.livehelp.chat.typing(self.client.key, name or "User", bool_field(message, "typing"),
                             from_operator=False)

    def on_close(self) -> None:
        super().on_close()
        if self.client is not None:
            self.livehelp.client_disconnected(self.client.key)
            self.cobrowse_closed()


routes = [(r"ws/user/([A-Za-z0-9_-]{8,64})", UserSocket)]
