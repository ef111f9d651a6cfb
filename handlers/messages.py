"""Every message a client may send over the two sockets, declared once (docs/protocol.md).

Each type is a msgspec `Struct` tagged by its `type`; a socket decodes a frame into
one of its types and checks every field in one step. A frame that does not fit
gets the protocol's error code: `bad_json`, `bad_type`, `unknown_type` or
`bad_field` with words naming the field (`refusal`). Fields not declared are
ignored, so a newer page does not break an older server.

tests/test_protocol_doc.py checks these declarations against docs/protocol.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Union

import msgspec
import orjson

# A sequence number: what SQLite's INTEGER and MongoDB's int64 can hold.
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
# Ids a page makes up (client_id) and keys it got from the server are short.
ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
SessionKey = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
# Field names are Python names from interview files; screen ids and actions are short.
FieldName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Action = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
# Role names come from interview files; this bounds what an operator page can send.
RoleName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Roles = Annotated[list[RoleName], msgspec.Meta(max_length=100)]
Phone = Annotated[str, msgspec.Meta(max_length=32)]
# What a person types (a contact, a chat text) is bounded by the rules, which refuse in
# their words, not by the decoder, whose refusals name fields.
Contact = str
LeftId = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
OperatorId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# A note for the next operator; its bound is the model's (handover.py).
NoteText = Annotated[str, msgspec.Meta(max_length=4000)]
# The question heading a page shows, as it tells the Monitor.
ScreenText = Annotated[str, msgspec.Meta(max_length=200)]
# Chat text: 1 to `live help: max chat characters`, checked by the chat rules.
ChatText = str


class Message(msgspec.Struct, tag_field="type", frozen=True):
    """Base of every client message; the tag is the message's `type`."""

    @classmethod
    def kind(cls) -> str:
        return cls.__struct_config__.tag


# ---------------------------------------------------------------- interviewee socket
class UserHello(Message, tag="hello"):
    last_seq: Seq | None = None
    active: bool = False  # the page had chat on before it reconnected
    screen: ScreenText | None = None  # the question the page shows


class Activate(Message, tag="activate"):
    pass


class Deactivate(Message, tag="deactivate"):
    pass


class UserChat(Message, tag="chat"):
    client_id: ClientId
    text: ChatText


class LeaveMessage(Message, tag="leave_message"):
    client_id: ClientId
    text: ChatText
    contact: Contact = ""  # an email address or an E.164 phone number, or nothing


class UserTyping(Message, tag="typing"):
    typing: bool


class Screen(Message, tag="screen"):
    screen: FieldName
    values: dict[str, Any] = {}


class FieldChange(Message, tag="field"):
    name: FieldName
    value: Any


class Rate(Message, tag="rate"):
    """The user's rating of the help chat that ended; `score` None: "No thanks". The
    score's range and the comment's length are the satisfaction rule's to refuse in words."""

    score: int | None
    comment: str = ""


# ---------------------------------------------------------------- operator socket
class EntryMessage(Message):
    """An operator's message about one Monitor entry (`session`: the entry key)."""

    session: SessionKey


class MonitorHello(Message, tag="hello"):
    last_seq: dict[str, Seq | None] = {}


class Read(Message, tag="read"):
    """This operator has seen `conversation` up to `seq`."""

    conversation: SessionKey
    seq: Seq


class SetStatus(Message, tag="set_status"):
    available: bool


class SetRoles(Message, tag="set_roles"):
    roles: Roles


class SetPhone(Message, tag="set_phone"):
    phone: Phone


class OperatorChat(EntryMessage, tag="chat"):
    client_id: ClientId
    text: ChatText


class Take(EntryMessage, tag="take"):
    pass


class OperatorTyping(EntryMessage, tag="typing"):
    typing: bool


class ListOperators(EntryMessage, tag="list_operators"):
    pass


class CloseChat(EntryMessage, tag="close_chat"):
    pass


class Transfer(EntryMessage, tag="transfer"):
    to: OperatorId | None = None  # None: back to the queue
    note: NoteText = ""


class ReplyLeft(Message, tag="reply_left"):
    id: LeftId
    client_id: ClientId
    text: ChatText


class HandleLeft(Message, tag="handle_left"):
    id: LeftId


class SetCapacity(Message, tag="set_capacity"):
    capacity: Annotated[int, msgspec.Meta(ge=1, le=1000)]


class Block(EntryMessage, tag="block"):
    pass


class Unblock(EntryMessage, tag="unblock"):
    pass


class PhoneForwarding(EntryMessage, tag="phone"):
    on: bool


class Observe(EntryMessage, tag="observe"):
    pass


class StopObserve(EntryMessage, tag="stop_observe"):
    pass


class Control(EntryMessage, tag="control"):
    pass


class StopControl(EntryMessage, tag="stop_control"):
    pass


class SetField(EntryMessage, tag="set_field"):
    name: FieldName
    value: Any


class Press(EntryMessage, tag="press"):
    action: Action


# Canned replies and notes (state/livehelp/desk_rules.py). Titles, texts and notes are
# bounded by the desk's rules, which refuse in words; a reply's id is one the server gave.
ReplyId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class SaveReply(Message, tag="save_reply"):
    """Add one of this operator's own replies (`id` None), or change one."""

    client_id: ClientId
    title: str
    text: str
    id: ReplyId | None = None


class DeleteReply(Message, tag="delete_reply"):
    client_id: ClientId
    id: ReplyId


class AddNote(EntryMessage, tag="add_note"):
    """A note on the entry's session for the operators."""

    client_id: ClientId
    text: str


class ListNotes(EntryMessage, tag="notes"):
    pass


# ---------------------------------------------------------------- both sockets
class History(Message, tag="history"):
    """Both sockets: the next page of one conversation's messages after `after`."""

    conversation: SessionKey
    after: Seq | None = None


USER_MESSAGES = (UserHello, History, Activate, Deactivate, UserChat, LeaveMessage, UserTyping,
                 Screen, FieldChange, Rate)
MONITOR_MESSAGES = (MonitorHello, History, Read, SetStatus, SetRoles, SetPhone, SetCapacity,
                    OperatorChat, Take, ListOperators, CloseChat, Transfer, ReplyLeft,
                    HandleLeft,
                    OperatorTyping, Block, Unblock, PhoneForwarding, Observe, StopObserve,
                    Control, StopControl, SetField, Press,
                    SaveReply, DeleteReply, AddNote, ListNotes)


class Protocol:
    """The messages one socket accepts: decodes a frame into one of them, or says why not."""

    def __init__(self, types: tuple[type[Message], ...]) -> None:
        self.types = types
        self.kinds = frozenset(t.kind() for t in types)
        self._decoder = msgspec.json.Decoder(Union[types])  # noqa: UP007 (a runtime tuple)

    def decode(self, raw: str) -> Message:
        """The message in `raw`; raises `Refused` with the protocol's code otherwise."""
        try:
            return self._decoder.decode(raw)
        except msgspec.ValidationError as error:
            raise self._refusal(raw, str(error)) from None
        except (msgspec.DecodeError, RecursionError):  # RecursionError: nested too deeply
            raise Refused("bad_json", "The frame is not valid JSON.") from None

    def _refusal(self, raw: str, problem: str) -> Refused:
        """Which rule the frame broke: only refused frames pay for this second parse."""
        try:
            data = orjson.loads(raw)
        except (orjson.JSONDecodeError, RecursionError):
            return Refused("bad_json", "The frame is not valid JSON.")
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            return Refused("bad_type", "A frame must be a JSON object with a string 'type'.")
        kind = data["type"][:40]
        if kind not in self.kinds:
            return Refused("unknown_type", f"Unknown message type '{kind}'.", kind)
        client_id = data.get("client_id")
        return Refused("bad_field", in_words(problem),
                       client_id if isinstance(client_id, str) else kind)


class Refused(Exception):
    """A frame the protocol refuses: `code` for pages, `message` for people, `ref` echoed."""

    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.ref = code, message, ref


_PATH = re.compile(r" - at `\$\.(\w+)(.*)`$")
_MISSING = re.compile(r"^Object missing required field `(\w+)`")
_EXPECTED = [
    (re.compile(r"^Expected `str` of length >= 1"), "must not be empty"),
    (re.compile(r"^Expected `str` of length <= (\d+)"), r"must be at most \1 characters long"),
    (re.compile(r"^Expected `array` of length <= (\d+)"), r"may hold at most \1 items"),
    (re.compile(r"^Expected `int` (>=|<=) "), "must be a whole number from 0 to 2^63-1"),
    (re.compile(r"^Expected `int \| null`"), "must be a whole number or null"),
    (re.compile(r"^Expected `str`"), "must be a string"),
    (re.compile(r"^Expected `bool`"), "must be true or false"),
    (re.compile(r"^Expected `int`"), "must be a whole number"),
    (re.compile(r"^Expected `object`"), "must be a JSON object"),
    (re.compile(r"^Expected `array`"), "must be a list"),
]


def in_words(problem: str) -> str:
    """msgspec's "Expected `str`, got `int` - at `$.text`" as "'text' must be a string"."""
    missing = _MISSING.match(problem)
    if missing:
        return f"'{missing.group(1)}' is required"
    located = _PATH.search(problem)
    if located is None:
        return problem
    name, inside = located.group(1), located.group(2)
    where = f"'{name}'" if not inside else f"each item of '{name}'"
    for pattern, words in _EXPECTED:
        if pattern.match(problem):
            return f"{where} {pattern.sub(words, problem[:located.start()]).split(',')[0]}"
    return f"{where}: {problem[:located.start()]}"
