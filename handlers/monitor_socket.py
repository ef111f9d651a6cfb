"""The operator's WebSocket (Monitor page): availability, roles, phone, chat, block."""

from __future__ import annotations

from typing import Any

import tornado.web

from handlers import messages
from handlers.cobrowse_socket import MonitorCoBrowseMixin
from handlers.monitor_commands import SessionCommands
from handlers.monitor_desk import MonitorDeskMixin
from handlers.socket_base import LiveSocket
from handlers.socket_limits import limits_of, retry_after
from state.livehelp.errors import LiveHelpError
from state.livehelp.left import left_event
from state.phone.numbers import validate_e164

# Under load an operator gets an event for every chat of every session; frames to a
# Monitor leave at most every 10 ms (one frame carries what came meanwhile). An idle
# socket still sends at once, and so does a socket observing a screen.
MONITOR_FLUSH_INTERVAL = 0.01


class MonitorSocket(SessionCommands, MonitorDeskMixin, MonitorCoBrowseMixin, LiveSocket):
    protocol = messages.Protocol(messages.MONITOR_MESSAGES)
    operator_id: str | None = None
    flush_interval = MONITOR_FLUSH_INTERVAL

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.current_user is None or not self.current_user.is_operator:
            raise tornado.web.HTTPError(403, "The Monitor socket is for operators only.")
        await super().get(*args, **kwargs)

    @property
    def homes(self):  # handlers.home_monitor.Homes in cluster mode, else None
        return self.settings.get("homes")

    async def dispatch(self, message: messages.Message) -> None:
        """Cluster mode: a command about a session another process holds runs there."""
        if self.homes is not None and (home := self.homes.home_of(message)) is not None:
            self._bad_frames = 0
            self.homes.forward(self, home, message)
            return
        await super().dispatch(message)

    async def open(self) -> None:
        operator = await self.livehelp.operators.connected(self.current_user)
        self.operator_id = operator.user.id
        self.subscribe("monitor")
        self.subscribe(f"operator:{self.operator_id}")
        self.send(self.livehelp.monitor_snapshot(self.operator_id))
        self.send_cluster_state()
        await self.send_messages_left()
        await self.send_canned_replies()

    def send_cluster_state(self) -> None:
        """Cluster mode: whether the other processes' live updates reach this process."""
        if (cluster := self.settings.get("cluster")) is not None:
            self.send(cluster.state())

    async def send_messages_left(self) -> None:
        left = await self.store.list_left_messages()
        self.send({"type": "messages_left", "messages": [left_event(m) for m in left]})

    @retry_after
    async def on_hello(self, message: messages.MonitorHello) -> None:
        """The page (re)connected: the whole state, then what it missed of each listed
        conversation it holds (`last_seq` names them), a page of each."""
        limits_of(self).check_replay()
        entries = self.livehelp.listed_entries()
        self.send(self.livehelp.monitor_snapshot(self.operator_id, entries))
        self.send_cluster_state()
        await self.send_messages_left()
        await self.send_canned_replies()
        held = {entry["conversation"] for entry in entries} & message.last_seq.keys()
        for conversation in sorted(held):
            after = message.last_seq[conversation] or 0
            page = await self.livehelp.chat.history(conversation, after)
            for event in page.messages():
                self.send(event)

    @retry_after
    async def on_history(self, message: messages.History) -> None:
        """Replay a page of one listed conversation after `after` (a new entry, a gap in
        seqs, `history_more`)."""
        limits_of(self).check_replay()
        if not self.livehelp.conversation_listed(message.conversation):
            raise LiveHelpError("unknown_conversation", "That conversation is not listed.")
        page = await self.livehelp.chat.history(message.conversation, message.after or 0)
        for event in page.messages():
            self.send(event)

    async def on_read(self, message: messages.Read) -> None:
        self.livehelp.operators.read(self.operator_id, message.conversation, message.seq)

    async def on_set_status(self, message: messages.SetStatus) -> None:
        await self.livehelp.operators.set_status(self.operator_id, message.available)

    async def on_set_roles(self, message: messages.SetRoles) -> None:
        await self.livehelp.operators.set_roles(self.operator_id, message.roles)

    async def on_set_phone(self, message: messages.SetPhone) -> None:
        if not self.config.twilio.voice:
            raise LiveHelpError("voice_off", "Telephone call forwarding is not configured.")
        phone = message.phone.strip()
        if phone:
            try:
                validate_e164(phone)
            except ValueError as error:
                raise LiveHelpError("bad_phone", f"This phone number {error}.") from None
        else:
            self.codes.disable_operator(self.operator_id)
        await self.livehelp.operators.set_phone(self.operator_id, phone)

    @retry_after
    async def on_reply_left(self, message: messages.ReplyLeft) -> None:
        stored = await self.livehelp.left.reply(self.operator_id, message.id,
                                                message.client_id, message.text)
        self.send_ack(message.client_id, stored)

    async def on_handle_left(self, message: messages.HandleLeft) -> None:
        record = await self.livehelp.left.handle(self.operator_id, message.id)
        await self.audit_session("message left handled", record.session_id)

    async def on_set_capacity(self, message: messages.SetCapacity) -> None:
        await self.livehelp.operators.set_capacity(self.operator_id, message.capacity)

    def on_close(self) -> None:
        super().on_close()
        if self.homes is not None:
            self.homes.closed(self)
        if self.operator_id is not None:
            self.livehelp.operators.disconnected(self.operator_id)


routes = [(r"ws/monitor", MonitorSocket)]
