"""The operators' desk: canned replies (shared ones kept by admins, each operator's own)
and private notes on a session, which only operators ever see.

Pure rules over the store and the Hub: what a reply or a note may hold (refused in
plain words, like the chat rules), who may change which reply, and the events every
Monitor gets when one changes (docs/protocol.md, "Canned replies and notes"). No
Tornado: the Monitor socket and the admin page call these, and deliver nothing
themselves. The `{first_name}` and `{interview}` in a reply are filled in by the
Monitor page where the reply is inserted (monitor-canned.js), never here: the text is
stored as written.
"""

from __future__ import annotations

from typing import Protocol

from state.livehelp.errors import LiveHelpError
from state.store.base import CannedReply, Note, Store, User

# A title is what the `/` picker shows and matches first: a few words.
MAX_TITLE_CHARS = 100
# A reply is inserted into a chat message for editing: a few paragraphs at most.
MAX_REPLY_CHARS = 2000
# A note is for colleagues, not a file: the length of a long chat message.
MAX_NOTE_CHARS = 2000
# Each operator's own replies, and the shared ones: every Monitor holds them all and
# the picker searches them on each keystroke, so the list stays one people can scan.
MAX_REPLIES = 200


class Publisher(Protocol):
    """What the desk needs of the Hub (hub.py)."""

    def publish(self, channel: str, message: dict) -> None: ...


def reply_event(reply: CannedReply) -> dict:
    """A reply as the Monitor gets it; `shared` says an admin keeps it."""
    return {"id": reply.id, "title": reply.title, "text": reply.text,
            "shared": reply.owner_id is None}


def note_event(note: Note) -> dict:
    return {"id": note.id, "author": note.author_name, "author_id": note.author_id,
            "text": note.text, "time": note.created.isoformat()}


def _number(n: int) -> str:
    return f"{n:,}"


def check_reply(title: str, text: str) -> tuple[str, str]:
    """The title and text to keep (surrounding spaces dropped), or a refusal in words."""
    title, text = title.strip(), text.strip()
    if not title:
        raise LiveHelpError("bad_field", "A reply needs a title.")
    if len(title) > MAX_TITLE_CHARS:
        raise LiveHelpError("bad_field", "This title is too long: at most "
                            f"{_number(MAX_TITLE_CHARS)} characters.")
    if not text:
        raise LiveHelpError("bad_field", "A reply cannot be empty.")
    if len(text) > MAX_REPLY_CHARS:
        raise LiveHelpError("bad_field", "This reply is too long: at most "
                            f"{_number(MAX_REPLY_CHARS)} characters.")
    return title, text


def check_note(text: str) -> str:
    text = text.strip()
    if not text:
        raise LiveHelpError("bad_field", "A note cannot be empty.")
    if len(text) > MAX_NOTE_CHARS:
        raise LiveHelpError("bad_field", "This note is too long: at most "
                            f"{_number(MAX_NOTE_CHARS)} characters.")
    return text


def replies_channel(owner_id: str | None) -> str:
    """Who hears of a change: every Monitor for a shared reply, the owner's for their own."""
    return "monitor" if owner_id is None else f"operator:{owner_id}"


class Desk:
    """Canned replies and notes. `owner_id` None means the shared replies (admins)."""

    def __init__(self, store: Store, hub: Publisher) -> None:
        self.store = store
        self.hub = hub

    async def replies_for(self, operator_id: str) -> list[dict]:
        """The shared replies and this operator's own, by title: the picker's list."""
        return [reply_event(r) for r in await self.store.list_canned_replies(operator_id)]

    async def shared_replies(self) -> list[CannedReply]:
        return await self.store.list_canned_replies(None)

    async def _kept(self, owner_id: str | None) -> list[CannedReply]:
        """The replies `owner_id` keeps (the shared ones when None), without the others."""
        return [r for r in await self.store.list_canned_replies(owner_id)
                if r.owner_id == owner_id]

    async def find_reply(self, owner_id: str | None, reply_id: str) -> CannedReply:
        """One of `owner_id`'s replies; refuses with `unknown_reply` otherwise (another
        operator's, a shared one asked for as one's own, a deleted one)."""
        found = next((r for r in await self._kept(owner_id) if r.id == reply_id), None)
        if found is None:
            whose = "shared reply" if owner_id is None else "reply of yours"
            raise LiveHelpError("unknown_reply", f"There is no such {whose}: it may have "
                                "been deleted meanwhile.")
        return found

    async def save_reply(self, owner_id: str | None, reply_id: str | None, title: str,
                         text: str) -> CannedReply:
        """Add a reply (`reply_id` None) or change one of `owner_id`'s; every Monitor
        concerned gets `canned_reply`."""
        title, text = check_reply(title, text)
        if reply_id is not None:
            reply = await self.find_reply(owner_id, reply_id)
            reply.title, reply.text = title, text
        else:
            if len(await self._kept(owner_id)) >= MAX_REPLIES:
                whose = "shared replies" if owner_id is None else "replies of your own"
                raise LiveHelpError("too_many_replies", f"There are {MAX_REPLIES} {whose} "
                                    "already, the most kept: delete one you no longer use first.")
            reply = CannedReply(title, text, owner_id=owner_id)
        await self.store.save_canned_reply(reply)
        self.hub.publish(replies_channel(owner_id), {"type": "canned_reply",
                                                     "reply": reply_event(reply)})
        return reply

    async def delete_reply(self, owner_id: str | None, reply_id: str) -> CannedReply:
        """Delete one of `owner_id`'s replies; every Monitor concerned gets
        `canned_reply_gone`. Returns what was deleted (the audit names its title)."""
        reply = await self.find_reply(owner_id, reply_id)
        if not await self.store.delete_canned_reply(reply_id, owner_id):
            raise LiveHelpError("unknown_reply", "That reply was deleted meanwhile.")
        self.hub.publish(replies_channel(owner_id), {"type": "canned_reply_gone", "id": reply_id})
        return reply

    async def add_note(self, session_id: str, author: User, text: str) -> Note:
        """Keep a note on the session and push it to every Monitor (operators only: no
        interviewee's socket subscribes to "monitor")."""
        note = Note(session_id, author.id, author.display_name, check_note(text))
        await self.store.add_note(note)
        self.hub.publish("monitor", {"type": "note", "session": session_id,
                                     "note": note_event(note)})
        return note

    async def notes(self, session_id: str) -> list[dict]:
        return [note_event(n) for n in await self.store.list_notes(session_id)]
