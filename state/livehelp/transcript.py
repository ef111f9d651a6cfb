"""Transcripts: stored chat messages turned into lines a person reads, printed or
downloaded. Two views of one conversation:

- the interviewee's, with the names their Help tab showed (static/js/lh-chat-log.js
  `senderLabel`): "You", an operator's first name (or "Operator"), a peer's first name,
  else "Participant N" in a shared conversation, numbered like the Help tab numbers them;
- the operators', with real names, email addresses and roles.

Times are shown in a time zone the reader's page names (an IANA name such as
"Europe/Paris"); an unknown or missing zone falls back to UTC and says so. Operators'
private notes are not chat messages, so no transcript built here can hold one.
"""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from itertools import groupby

from state.livehelp.entries import visitor_label
from state.livehelp.rules import client_key
from state.store.base import ChatMessage

# The longest IANA zone name is 32 characters; anything much longer is not one.
LONGEST_ZONE_NAME = 64


@functools.cache
def _known_zones() -> frozenset[str]:
    # Read once: the tz database does not change while the server runs.
    return frozenset(zoneinfo.available_timezones())


@dataclass(frozen=True)
class TimeZone:
    """The zone a transcript's times are shown in, and why, when it is not the one asked."""

    zone: tzinfo
    name: str
    note: str = ""  # "" when the asked zone is used

    @classmethod
    def named(cls, asked: str) -> TimeZone:
        """`asked` when it is a zone of the tz database; UTC with a note otherwise
        (never an error: a transcript in UTC is still the whole transcript)."""
        asked = asked.strip()
        if not asked:
            return cls(UTC, "UTC", "No time zone was given, so times are in UTC.")
        if len(asked) <= LONGEST_ZONE_NAME and asked in _known_zones():
            return cls(zoneinfo.ZoneInfo(asked), asked)
        shown = asked[:LONGEST_ZONE_NAME]
        return cls(UTC, "UTC", f"The time zone “{shown}” is not known, so times are in UTC.")

    @property
    def kept_name(self) -> str:
        """The zone as an address keeps it: its name when it is the one asked, else ""
        (the page's transcript.js then puts the browser's own zone in)."""
        return "" if self.note else self.name

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)


@dataclass(frozen=True)
class TranscriptLine:
    """One message as a transcript shows it. `email` is set in the operators' view only."""

    seq: int
    time: datetime  # in the transcript's zone
    name: str
    role: str  # "user" or "operator", as stored
    mine: bool  # written by the reader (the interviewee's view)
    text: str
    email: str | None = None

    @property
    def role_words(self) -> str:
        return "Operator" if self.role == "operator" else "Interviewee"


def _participants(messages: list[ChatMessage]) -> dict[str, str]:
    """Sender key -> "Participant N" for each user who sent no first name, numbered by
    their first message in seq order: what the Help tab's ChatLog.participants() does."""
    labels: dict[str, str] = {}
    for message in sorted(messages, key=lambda m: m.seq):
        if message.sender_role != "user" or message.sender_first_name:
            continue
        labels.setdefault(message.sender_key, f"Participant {len(labels) + 1}")
    return labels


def user_lines(messages: list[ChatMessage], reader: str, shared: bool,
               zone: TimeZone) -> list[TranscriptLine]:
    """The conversation as the interviewee `reader` (their participant key) saw it;
    `shared`: a peer-mode conversation, where unnamed people are told apart."""
    participants = _participants(messages) if shared else {}
    lines = []
    for message in sorted(messages, key=lambda m: m.seq):
        mine = message.sender_role == "user" and message.sender_key == reader
        if mine:
            name = "You"
        elif message.sender_role == "operator":
            name = message.sender_first_name or "Operator"
        else:
            name = (message.sender_first_name or participants.get(message.sender_key)
                    or "User")
        lines.append(TranscriptLine(message.seq, zone.local(message.time), name,
                                    message.sender_role, mine, message.text))
    return lines


def operator_lines(messages: list[ChatMessage], zone: TimeZone) -> list[TranscriptLine]:
    """The conversation for operators: full names as sent, anonymous people named the
    way their Monitor entry names them ("Visitor K7QX"), with email addresses."""
    lines = []
    for message in sorted(messages, key=lambda m: m.seq):
        name = f"{message.sender_first_name or ''} {message.sender_last_name or ''}".strip()
        if not name and message.sender_role == "operator":
            name = message.sender_email or "Operator"
        elif not name:
            name = visitor_label(client_key(message.session_id, message.sender_key))
        lines.append(TranscriptLine(message.seq, zone.local(message.time), name,
                                    message.sender_role, False, message.text,
                                    message.sender_email))
    return lines


def by_day(lines: list[TranscriptLine]) -> list[tuple[date, list[TranscriptLine]]]:
    """The lines under one heading per day (in the transcript's zone)."""
    return [(day, list(group)) for day, group in groupby(lines, key=lambda line: line.time.date())]


def day_words(day: date) -> str:
    """"Monday 6 May 2024": English words whatever the server's locale."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def as_text(title: str, lines: list[TranscriptLine], zone: TimeZone,
            operators_view: bool = False) -> str:
    """The transcript as a plain-text file: a heading, then "[2024-05-06 09:08] Name:
    text" per message, continuation lines of a message indented under it."""
    out = [f"Conversation: {title}", f"Times: {zone.name}"]
    if zone.note:
        out.append(zone.note)
    out.append("")
    if not lines:
        out.append("No messages.")
    for line in lines:
        who = line.name
        if operators_view:
            who += f" ({line.role_words.lower()}{', ' + line.email if line.email else ''})"
        first, *rest = line.text.splitlines() or [""]
        out.append(f"[{line.time:%Y-%m-%d %H:%M}] {who}: {first}")
        out += [f"    {more}" for more in rest]
    return "\n".join(out) + "\n"
