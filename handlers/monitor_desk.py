"""The Monitor socket's part for canned replies and private notes (docs/protocol.md,
"Canned replies and notes"): the rules are state/livehelp/desk_rules.py; here each
message is parsed, handed to them, and acknowledged."""

from __future__ import annotations

from handlers import messages
from handlers.socket_limits import retry_after
from state.livehelp.desk_rules import Desk

# A note in the audit log is cut to this: enough to recognise it, the rest is in the notes.
AUDIT_NOTE_CHARS = 200


class MonitorDeskMixin:
    """Mixed into MonitorSocket (which provides send, store, livehelp, audit_session)."""

    @property
    def desk(self) -> Desk:
        return Desk(self.store, self.settings["hub"])

    async def send_canned_replies(self) -> None:
        """After each `monitor` snapshot, so the `/` picker works at once."""
        self.send({"type": "canned_replies",
                   "replies": await self.desk.replies_for(self.operator_id)})

    def send_desk_ack(self, client_id: str, record_id: str) -> None:
        self.send({"type": "ack", "client_id": client_id, "id": record_id})

    @retry_after
    async def on_save_reply(self, message: messages.SaveReply) -> None:
        # Each save is a store write: it counts against this operator's chat rate.
        self.livehelp.chat.limits.check_rate(f"u:{self.operator_id}")
        reply = await self.desk.save_reply(self.operator_id, message.id, message.title,
                                           message.text)
        self.send_desk_ack(message.client_id, reply.id)

    async def on_delete_reply(self, message: messages.DeleteReply) -> None:
        await self.desk.delete_reply(self.operator_id, message.id)
        self.send_desk_ack(message.client_id, message.id)

    @retry_after
    async def on_add_note(self, message: messages.AddNote) -> None:
        session_id = self.livehelp.client(message.session).session_id  # refuses an unknown key
        self.livehelp.chat.limits.check_rate(f"u:{self.operator_id}")
        note = await self.desk.add_note(session_id, self.current_user, message.text)
        self.send_desk_ack(message.client_id, note.id)  # stored: the audit entry follows
        text = note.text if len(note.text) <= AUDIT_NOTE_CHARS else (
            note.text[:AUDIT_NOTE_CHARS] + "…")
        await self.audit_session("add note", session_id, text)

    async def on_notes(self, message: messages.ListNotes) -> None:
        session_id = self.livehelp.client(message.session).session_id
        self.send({"type": "notes", "session": session_id,
                   "notes": await self.desk.notes(session_id)})
