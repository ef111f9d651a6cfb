"""The Monitor socket's commands about one session (an entry's key in `session`): chat,
take over, transfer, close, typing, block, phone forwarding. Mixed into MonitorSocket,
and in cluster mode into the stand-in that runs them at the session's home process
(handlers/home_monitor.py), which is why they use only `send`, the services and
`current_user`/`operator_id`."""

from __future__ import annotations

from handlers import messages
from handlers.socket_limits import limits_of, retry_after
from state.livehelp.errors import LiveHelpError
from state.store.base import AuditEntry, User

# What a Monitor sends about one session: in cluster mode, run where the session lives.
SESSION_COMMANDS = frozenset({
    "chat", "take", "list_operators", "close_chat", "transfer", "typing", "block",
    "unblock", "phone", "observe", "stop_observe", "control", "stop_control", "set_field",
    "press", "add_note", "notes"})


class SessionCommands:
    current_user: User
    operator_id: str

    async def audit(self, action: str, key: str, detail: str = "") -> None:
        await self.audit_session(action, self.livehelp.client(key).session_id, detail)

    async def audit_session(self, action: str, session_id: str, detail: str = "") -> None:
        user = self.current_user
        await self.store.add_audit(AuditEntry(user.id, user.email, action, session_id, detail))

    @retry_after
    async def on_chat(self, message: messages.OperatorChat) -> None:
        stored = await self.livehelp.chat.operator_chat(self.operator_id, message.session,
                                                        message.client_id, message.text)
        self.send_ack(message.client_id, stored)

    async def on_take(self, message: messages.Take) -> None:
        self.livehelp.operators.take(self.operator_id, message.session)

    async def on_list_operators(self, message: messages.ListOperators) -> None:
        self.send({"type": "operators", "session": message.session,
                   "operators": self.livehelp.handover.candidates(self.operator_id,
                                                                  message.session)})

    async def on_close_chat(self, message: messages.CloseChat) -> None:
        await self.livehelp.handover.close(self.operator_id, message.session,
                                     may_any=self.current_user.is_admin)
        await self.audit("close chat", message.session)

    async def on_transfer(self, message: messages.Transfer) -> None:
        client = await self.livehelp.handover.transfer(
            self.operator_id, message.session, message.to, message.note,
            may_any=self.current_user.is_admin)
        target = self.livehelp.find_operator(client.operator_id or "")
        to = f"to {target.user.email}" if target else "back to the queue"
        await self.audit("transfer", message.session, f"{to}; note: {message.note.strip()}")

    async def on_typing(self, message: messages.OperatorTyping) -> None:
        if not limits_of(self).frames.typing(message.session, message.typing):
            return  # over the frame limit: dropped (docs/protocol.md, `typing`)
        name = self.current_user.first_name or "Operator"
        self.livehelp.chat.typing(message.session, name, message.typing, from_operator=True)

    async def on_block(self, message: messages.Block) -> None:
        await self.livehelp.set_blocked(message.session, True)
        await self.audit("block", message.session)

    async def on_unblock(self, message: messages.Unblock) -> None:
        await self.livehelp.set_blocked(message.session, False)
        await self.audit("unblock", message.session)

    async def on_phone(self, message: messages.PhoneForwarding) -> None:
        if not self.config.twilio.voice:
            raise LiveHelpError("voice_off", "Telephone call forwarding is not configured.")
        key = message.session
        self.livehelp.client(key)  # refuses an unknown key
        if message.on:
            self.codes.enable(key, self.operator_id)
            await self.audit("phone forwarding on", key)
        else:
            self.codes.disable(key)
            await self.audit("phone forwarding off", key)

