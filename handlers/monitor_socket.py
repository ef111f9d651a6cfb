"""The operator's WebSocket (Monitor page): availability, roles, phone, chat, block."""

from __future__ import annotations

from typing import Any

import tornado.web

from handlers.cobrowse_socket import MonitorCoBrowseMixin
from handlers.socket_base import FieldError, LiveSocket, bool_field, seq_field, text_field
from handlers.user_socket import CLIENT_ID_CHARS
from state.livehelp.errors import LiveHelpError
from state.phone.numbers import validate_e164
from state.store.base import AuditEntry

# Role names come from interview files; this bounds what an operator page can send.
MAX_ROLES = 100
MAX_ROLE_CHARS = 100
# Under load an operator gets an event for every chat of every session; frames to a
# Monitor leave at most every 10 ms (one frame carries what came meanwhile). An idle
# socket still sends at once, and so does a socket observing a screen.
MONITOR_FLUSH_INTERVAL = 0.01


class MonitorSocket(MonitorCoBrowseMixin, LiveSocket):
    message_types = frozenset({
        "hello", "set_status", "set_roles", "set_phone", "chat", "take", "typing",
        "block", "unblock", "phone", "history",
    }) | MonitorCoBrowseMixin.cobrowse_types
    operator_id: str | None = None
    flush_interval = MONITOR_FLUSH_INTERVAL

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.current_user is None or not self.current_user.is_operator:
            raise tornado.web.HTTPError(403, "The Monitor socket is for operators only.")
        await super().get(*args, **kwargs)

    async def open(self) -> None:
        operator = await self.livehelp.operators.connected(self.current_user)
        self.operator_id = operator.user.id
        self.subscribe("monitor")
        self.subscribe(f"operator:{self.operator_id}")
        self.send(self.livehelp.monitor_snapshot(self.operator_id))

    def session_key(self, message: dict) -> str:
        key = text_field(message, "session", 200)
        self.livehelp.client(key)  # refuses an unknown key
        return key

    async def audit(self, action: str, key: str, detail: str = "") -> None:
        user = self.current_user
        await self.store.add_audit(AuditEntry(user.id, user.email, action,
                                              self.livehelp.client(key).session_id, detail))

    async def on_hello(self, message: dict) -> None:
        last_seq = message.get("last_seq") or {}
        if not isinstance(last_seq, dict):
            raise FieldError("'last_seq' must map conversations to numbers")
        self.send(self.livehelp.monitor_snapshot(self.operator_id))
        conversations = {c for c in (e["conversation"] for e in
                                     self.livehelp.monitor_snapshot(self.operator_id)["sessions"])}
        for conversation in sorted(conversations):
            after = seq_field(last_seq.get(conversation), "last_seq")
            for event in await self.livehelp.chat.history(conversation, after):
                self.send(event)

    async def on_history(self, message: dict) -> None:
        """Replay one listed conversation after `after` (a new entry, a gap in seqs)."""
        conversation = text_field(message, "conversation", 200)
        if not self.livehelp.conversation_listed(conversation):
            raise LiveHelpError("unknown_conversation", "That conversation is not listed.")
        for event in await self.livehelp.chat.history(conversation, seq_field(message.get("after"), "after")):
            self.send(event)

    async def on_set_status(self, message: dict) -> None:
        await self.livehelp.operators.set_status(self.operator_id, bool_field(message, "available"))

    async def on_set_roles(self, message: dict) -> None:
        roles = message.get("roles")
        if (not isinstance(roles, list) or len(roles) > MAX_ROLES or not all(
                isinstance(r, str) and 0 < len(r) <= MAX_ROLE_CHARS for r in roles)):
            raise FieldError("'roles' must be a list of role names")
        await self.livehelp.operators.set_roles(self.operator_id, roles)

    async def on_set_phone(self, message: dict) -> None:
        if not self.config.twilio.voice:
            raise LiveHelpError("voice_off", "Telephone call forwarding is not configured.")
        phone = text_field(message, "phone", 32, min_chars=0).strip()
        if phone:
            try:
                validate_e164(phone)
            except ValueError as error:
                raise LiveHelpError("bad_phone", f"The phone number {error}.") from None
        else:
            self.codes.disable_operator(self.operator_id)
        await self.livehelp.operators.set_phone(self.operator_id, phone)

    async def on_chat(self, message: dict) -> None:
        key = self.session_key(message)
        client_id = text_field(message, "client_id", CLIENT_ID_CHARS)
        text = text_field(message, "text", self.config.max_chat_chars)
        if not text.strip():
            raise LiveHelpError("bad_field", "A message cannot be empty.")
        stored = await self.livehelp.chat.operator_chat(self.operator_id, key, client_id, text)
        self.send({"type": "ack", "client_id": client_id, "seq": stored.seq,
                   "conversation": stored.conversation})

    async def on_take(self, message: dict) -> None:
        self.livehelp.operators.take(self.operator_id, self.session_key(message))

    async def on_typing(self, message: dict) -> None:
        name = self.current_user.first_name or "Operator"
        self.livehelp.chat.typing(self.session_key(message), name, bool_field(message, "typing"),
                             from_operator=True)

    async def on_block(self, message: dict) -> None:
        key = self.session_key(message)
        await self.livehelp.set_blocked(key, True)
        await self.audit("block", key)

    async def on_unblock(self, message: dict) -> None:
        key = self.session_key(message)
        await self.livehelp.set_blocked(key, False)
        await self.audit("unblock", key)

    async def on_phone(self, message: dict) -> None:
        if not self.config.twilio.voice:
            raise LiveHelpError("voice_off", "Telephone call forwarding is not configured.")
        key = self.session_key(message)
        if bool_field(message, "on"):
            self.codes.enable(key, self.operator_id)
            await self.audit("phone forwarding on", key)
        else:
            self.codes.disable(key)
            await self.audit("phone forwarding off", key)

    def on_close(self) -> None:
        super().on_close()
        if self.operator_id is not None:
            self.livehelp.operators.disconnected(self.operator_id)


routes = [(r"ws/monitor", MonitorSocket)]
