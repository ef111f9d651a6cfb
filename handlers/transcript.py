"""Transcripts of a conversation: the interviewee's (printable page and .txt download,
from the Help tab) and the operators' (/history/<conversation>, from the Monitor and
the history page). The lines themselves come from state/livehelp/transcript.py.

An interviewee names no conversation: the page takes a session id this browser was
granted (the same check as its `ws/user/<session>` socket) and reads the conversation
this browser sees in it, so no id, guessed or copied, opens anybody else's.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import tornado.escape
import tornado.web

from handlers.base import BaseHandler, operator_required
from state.livehelp.rules import LiveHelpSettings, session_of
from state.livehelp.transcript import (
    TimeZone,
    TranscriptLine,
    as_text,
    by_day,
    day_words,
    operator_lines,
    user_lines,
)
from state.store.base import ChatMessage, Note, SessionRecord

SESSION_ID = r"([A-Za-z0-9_-]{8,64})"
# A conversation id is a session id, or a client key (rules.py); the page's address
# carries it url-escaped, so it never holds a "/".
CONVERSATION_ID = r"([^/]{8,200})"


class TranscriptBase(BaseHandler):
    def zone(self) -> TimeZone:
        """The time zone the reader's page named (`?tz=Europe/Paris`), or UTC and why."""
        return TimeZone.named(self.get_query_argument("tz", ""))

    def with_zone(self, path: str) -> str:
        """The page at `path`, in the same time zone as this one (when it is a known one)."""
        zone = self.zone().kept_name
        return self.url(path) + ("?" + urlencode({"tz": zone}) if zone else "")

    def title_of(self, record: SessionRecord | None, fallback: str = "") -> str:
        name = record.interview if record else fallback
        interview = self.interviews.get(name) if name else None
        return interview.title if interview else (name or "Interview")

    def download(self, filename: str, text: str) -> None:
        """The transcript as a file the browser saves rather than shows."""
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(text.encode())


def file_name(interview: str, lines: list[TranscriptLine]) -> str:
    """"livehelp-fruit-2024-05-06.txt" (the day of the last message). Interview names
    are [A-Za-z0-9_-] already; kept to those here too, as the header's quotes need."""
    day = f"-{lines[-1].time:%Y-%m-%d}" if lines else ""
    return f"livehelp-{re.sub(r'[^A-Za-z0-9_-]', '', interview)}{day}.txt"


class UserTranscriptBase(TranscriptBase):
    async def own_conversation(self, session_id: str) -> tuple[SessionRecord, list[ChatMessage]]:
        """This browser's conversation in `session_id`: refused unless the browser holds
        the session, as its socket is."""
        if not self.may_use_session(session_id):
            raise tornado.web.HTTPError(403, "This browser has no access to that session.")
        record = await self.store.get_session(session_id)
        if record is None:
            raise tornado.web.HTTPError(404, "That session no longer exists.")
        conversation = LiveHelpSettings.of(record.live_help).conversation(
            record.id, self.participant_key)
        return record, await self.store.get_messages(conversation)

    async def own_lines(self, session_id: str) -> tuple[SessionRecord, list[TranscriptLine]]:
        record, messages = await self.own_conversation(session_id)
        shared = LiveHelpSettings.of(record.live_help).shared_conversation
        return record, user_lines(messages, self.participant_key, shared, self.zone())


class UserTranscriptHandler(UserTranscriptBase):
    """GET transcript/<session id>: the printable page (`?print=1` opens the print dialog)."""

    async def get(self, session_id: str) -> None:
        record, lines = await self.own_lines(session_id)
        self.render_page(
            "transcript.html", title=self.title_of(record), days=by_day(lines),
            day_words=day_words, zone=self.zone(), operators_view=False,
            download_url=self.with_zone(f"transcript/{session_id}/download"),
            back_url=self.url(f"interview/{record.interview}"), auto_print=bool(
                self.get_query_argument("print", "")))


class UserTranscriptDownload(UserTranscriptBase):
    """GET transcript/<session id>/download: the same lines as a .txt attachment."""

    async def get(self, session_id: str) -> None:
        record, lines = await self.own_lines(session_id)
        self.download(file_name(record.interview, lines),
                      as_text(self.title_of(record), lines, self.zone()))


class OperatorTranscriptBase(TranscriptBase):
    async def conversation(self, conversation: str
                           ) -> tuple[SessionRecord | None, str, list[TranscriptLine]]:
        """The session, its id and the lines of `conversation`; 404 when it has no
        message and is not live either (nothing to show, or no such conversation)."""
        messages = await self.store.get_messages(conversation)
        if not messages and not self.livehelp.conversation_listed(conversation):
            raise tornado.web.HTTPError(404, "There is no conversation with that id.")
        session_id = messages[0].session_id if messages else session_of(conversation)
        record = await self.store.get_session(session_id)
        return record, session_id, operator_lines(messages, self.zone())


class OperatorTranscriptHandler(OperatorTranscriptBase):
    """GET history/<conversation>: everything said, with real names, roles and times."""

    @operator_required
    async def get(self, conversation: str) -> None:
        record, session_id, lines = await self.conversation(conversation)
        notes: list[Note] = await self.store.list_notes(session_id)
        quoted = tornado.escape.url_escape(conversation, plus=False)
        self.render_page(
            "transcript.html", title=self.title_of(record), days=by_day(lines),
            day_words=day_words, zone=self.zone(), operators_view=True,
            session_id=session_id, interview=record.interview if record else "",
            live=self.livehelp.conversation_listed(conversation),
            people=people_of(lines), notes=notes, note_time=self.zone().local,
            download_url=self.with_zone(f"history/{quoted}/download"),
            back_url=self.with_zone("history"), auto_print=False)


class OperatorTranscriptDownload(OperatorTranscriptBase):
    """GET history/<conversation>/download: the operators' transcript as a .txt file."""

    @operator_required
    async def get(self, conversation: str) -> None:
        record, _session_id, lines = await self.conversation(conversation)
        self.download(file_name(record.interview if record else "conversation", lines),
                      as_text(self.title_of(record), lines, self.zone(), operators_view=True))


def people_of(lines: list[TranscriptLine]) -> list[TranscriptLine]:
    """The first line of each person who wrote, in the order they first wrote."""
    first: dict[tuple[str, str, str | None], TranscriptLine] = {}
    for line in lines:
        first.setdefault((line.role, line.name, line.email), line)
    return list(first.values())


routes = [
    (rf"transcript/{SESSION_ID}", UserTranscriptHandler),
    (rf"transcript/{SESSION_ID}/download", UserTranscriptDownload),
    (rf"history/{CONVERSATION_ID}", OperatorTranscriptHandler),
    (rf"history/{CONVERSATION_ID}/download", OperatorTranscriptDownload),
]
