"""The one small async interface every store implements, and the records it holds.

Both implementations (SQLite, MongoDB) pass the same contract suite in
tests/test_store_contract.py. Records are plain dataclasses; the store copies
them in and out, so callers never share mutable state with it.
"""

from __future__ import annotations

import abc
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

# 3: sign-ins (server-side sign-in sessions). 5: handovers. 6: canned replies, notes,
# ratings. 7: searchable chat history.
SCHEMA_VERSION = 7
if TYPE_CHECKING:  # reports.py builds on this module
    from state.store.reports import ReportDays, ReportTotals

PRIVILEGES = ("admin", "advocate", "user")
OPERATOR_PRIVILEGES = ("admin", "advocate")


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_millis(moment: datetime) -> datetime:
    """The moment as every store gives it back: UTC, millisecond precision (what
    BSON dates keep), so both stores return equal values. Naive times mean UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """Whole milliseconds since the epoch, exactly (no float rounding): how the MongoDB
    store keeps times that nx-27017 must compare or $set as they are."""
    return (to_millis(moment) - _EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(millis: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=millis)


def new_id() -> str:
    """An unguessable identifier (128 bits from `secrets`)."""
    return secrets.token_urlsafe(16)


class StoreError(Exception):
    """Base class of store failures."""


class StoreUnavailable(StoreError):
    """The database cannot be reached; nothing was written."""


class DuplicateEmail(StoreError):
    """An account with this email already exists."""


@dataclass
class User:
    id: str
    email: str
    password_hash: str
    first_name: str = ""
    last_name: str = ""
    privileges: list[str] = field(default_factory=lambda: ["user"])
    created: datetime = field(default_factory=utcnow)

    @property
    def is_operator(self) -> bool:
        return any(p in OPERATOR_PRIVILEGES for p in self.privileges)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.privileges

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email


@dataclass
class OperatorSettings:
    user_id: str
    available: bool = False
    roles: list[str] = field(default_factory=list)
    phone: str = ""
    capacity: int | None = None  # conversations at once; None: `routing: capacity`


@dataclass
class SessionRecord:
    """One interview session: the answers and where the interviewee is."""

    id: str
    interview: str
    owner_id: str | None = None  # signed-in user who started it, None when anonymous
    answers: dict = field(default_factory=dict)
    # Navigation state kept by the interview runner (e.g. screens to revisit).
    progress: dict = field(default_factory=dict)
    # {"availability": ..., "mode": ..., "partner_roles": [...]}; empty until the
    # interview calls set_live_help_status().
    live_help: dict = field(default_factory=dict)
    blocked: bool = False
    created: datetime = field(default_factory=utcnow)
    updated: datetime = field(default_factory=utcnow)


@dataclass
class ChatMessage:
    """A stored chat message; `seq` is assigned by the store, per conversation."""

    conversation: str
    session_id: str
    sender_key: str  # "u:<user id>" or "b:<browser id>"
    sender_role: str  # "user" or "operator"
    text: str
    client_id: str  # chosen by the sending page; (conversation, sender_key, client_id) is unique
    sender_email: str | None = None
    sender_first_name: str | None = None
    sender_last_name: str | None = None
    time: datetime = field(default_factory=utcnow)
    seq: int = 0


@dataclass
class AuditEntry:
    actor_id: str
    actor_email: str
    action: str  # "observe", "control", "join", "block", "unblock", ...
    session_id: str = ""
    detail: str = ""
    time: datetime = field(default_factory=utcnow)


@dataclass
class LeftMessage:
    """A message an interviewee left when no operator could chat (with how to reach
    them, if they said); an operator answers it in the conversation and marks it handled."""

    session_id: str
    interview: str
    conversation: str
    text: str
    contact: str = ""  # an email address or an E.164 number, or ""
    name: str | None = None  # the signed-in person's name, None when anonymous
    id: str = field(default_factory=new_id)
    created: datetime = field(default_factory=utcnow)
    handled_by: str | None = None  # the operator's email
    handled_at: datetime | None = None


@dataclass
class Handover:
    """How a help conversation last changed hands by an operator's act: closed by
    `closed_by`, or transferred (to `operator_id`, or back to the queue when None)
    with a note. Kept so that a restart does not undo it."""

    conversation: str
    operator_id: str | None = None
    closed_by: str | None = None
    transfer_from: str = ""
    transfer_note: str = ""
    time: datetime = field(default_factory=utcnow)


@dataclass
class CannedReply:
    """A saved answer: shared (owner_id None, kept by admins) or one operator's own.
    `{first_name}` and `{interview}` in its text are filled in where it is inserted."""

    title: str
    text: str
    owner_id: str | None = None
    id: str = field(default_factory=new_id)
    created: datetime = field(default_factory=utcnow)


@dataclass
class Note:
    """What an operator wrote about a session for the other operators; never shown to
    the interviewee."""

    session_id: str
    author_id: str
    author_name: str
    text: str
    id: str = field(default_factory=new_id)
    created: datetime = field(default_factory=utcnow)


@dataclass
class Rating:
    """How the interviewee rated one conversation's chat (1 to 5), once per conversation."""

    conversation: str
    session_id: str
    interview: str
    score: int
    comment: str = ""
    operator_id: str | None = None  # who held the conversation when it ended
    id: str = field(default_factory=new_id)
    created: datetime = field(default_factory=utcnow)


@dataclass
class SignIn:
    """One sign-in of an account in one browser (its cookie names it). The store keeps
    only a hash of the id the cookie carries, so a copy of the database signs nobody in."""

    id_hash: str
    user_id: str
    created: datetime = field(default_factory=utcnow)
    last_seen: datetime = field(default_factory=utcnow)


# -- chat history (searchable) ----------------------------------------------------

# The most conversations or hits one history query gives back (a page of results).
HISTORY_PAGE_MAX = 200


@dataclass
class ConversationSummary:
    """What the store keeps about one conversation as its messages are stored."""

    conversation: str
    session_id: str
    interview: str | None  # its session's when the conversation began (None: none stored)
    first_time: datetime
    last_time: datetime
    messages: int
    # The interviewee as the first user message naming someone showed them (None: anonymous).
    person_name: str | None = None
    person_email: str | None = None
    operators: list[str] = field(default_factory=list)  # emails, lower case, first seen first
    first_user_time: datetime | None = None  # the first message of each side
    first_reply_time: datetime | None = None
    first_reply_operator: str | None = None  # the email (lower case) of that first reply


@dataclass
class HistoryQuery:
    """Filters of the history page. `person` is a case-insensitive substring of the
    interviewee's name or email, `interview` an exact name, `operator` an email;
    `since` (inclusive) and `until` (exclusive) bound a conversation's last_time in a
    listing and a message's time in a search. `text`: the words a search looks for."""

    text: str = ""
    person: str = ""
    interview: str = ""
    operator: str = ""
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50  # at most HISTORY_PAGE_MAX
    before: str | None = None  # a listing's HistoryPage.next_before: the page after that one


@dataclass
class HistoryPage:
    conversations: list[ConversationSummary]
    next_before: str | None  # the cursor of the next (older) page; None on the last page


@dataclass
class SearchHit:
    """One message that has every word searched for. `text` is the message with each
    matching word between MARK_START and MARK_END (and those two characters removed
    from what was typed), so a page escapes the text first and marks it after."""

    conversation: str
    session_id: str
    seq: int
    time: datetime
    sender_role: str
    sender_name: str  # first and last name as sent, "" when the sender gave none
    text: str


# Around each matching word in SearchHit.text: control characters, which no escaping
# changes, so a page escapes the text and then puts its own highlight in their place.
MARK_START, MARK_END = "\x02", "\x03"


class Store(abc.ABC):
    """Persistence for accounts, operator settings, sessions, chat and the audit log."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, create the schema or indexes if missing."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def claim_writer(self) -> None:
        """Become the one server process that writes chat to this store, or raise
        StoreUnavailable naming the one that does (the server calls it at start)."""

    # accounts
    @abc.abstractmethod
    async def create_user(self, user: User) -> User:
        """Insert; raise DuplicateEmail if the email (case-insensitive) exists."""

    @abc.abstractmethod
    async def get_user(self, user_id: str) -> User | None: ...

    @abc.abstractmethod
    async def get_user_by_email(self, email: str) -> User | None:
        """Case-insensitive lookup."""

    @abc.abstractmethod
    async def list_users(self) -> list[User]:
        """All accounts ordered by email."""

    @abc.abstractmethod
    async def update_user(self, user: User) -> None:
        """Replace names, privileges and password hash of an existing account."""

    @abc.abstractmethod
    async def get_users(self, user_ids: list[str]) -> list[User]:
        """The accounts among `user_ids` that exist, in one query (any order)."""

    @abc.abstractmethod
    async def delete_user(self, user_id: str) -> None:
        """Remove the account, its operator settings and its sign-ins."""

    # sign-ins (server-side sign-in sessions)
    @abc.abstractmethod
    async def create_sign_in(self, sign_in: SignIn) -> None: ...

    @abc.abstractmethod
    async def get_sign_ins(self, id_hashes: list[str]) -> list[SignIn]:
        """The sign-ins among `id_hashes` that exist, in one query (any order)."""

    @abc.abstractmethod
    async def touch_sign_ins(self, id_hashes: list[str], moment: datetime) -> None:
        """Set `last_seen` of these sign-ins to `moment`, in one write."""

    @abc.abstractmethod
    async def delete_sign_ins(self, id_hashes: list[str]) -> None: ...

    @abc.abstractmethod
    async def delete_user_sign_ins(self, user_id: str) -> None:
        """End every sign-in of the account."""

    @abc.abstractmethod
    async def delete_stale_sign_ins(self, seen_before: datetime, created_before: datetime) -> int:
        """Remove sign-ins last seen before `seen_before` or created before
        `created_before`; return how many."""

    # operator settings
    @abc.abstractmethod
    async def get_operator_settings(self, user_id: str) -> OperatorSettings:
        """The saved settings, or defaults when none were saved."""

    @abc.abstractmethod
    async def save_operator_settings(self, settings: OperatorSettings) -> None: ...

    # interview sessions
    @abc.abstractmethod
    async def save_session(self, record: SessionRecord) -> None:
        """Insert or replace the whole record (sets `updated`)."""

    @abc.abstractmethod
    async def get_session(self, session_id: str) -> SessionRecord | None: ...

    # chat
    @abc.abstractmethod
    async def add_message(self, message: ChatMessage) -> tuple[ChatMessage, bool]:
        """Store a message and assign the next `seq` of its conversation.

        Idempotent: if (conversation, sender_key, client_id) is already stored,
        return the stored message and False; otherwise the new one and True.
        """

    @abc.abstractmethod
    async def get_messages(self, conversation: str, after_seq: int = 0,
                           limit: int | None = None) -> list[ChatMessage]:
        """Messages with seq > after_seq in seq order; the first `limit` of them when
        given (a page of history: one bounded query)."""

    @abc.abstractmethod
    async def conversation_tail(self, conversation: str) -> tuple[ChatMessage | None, int]:
        """The conversation's last message (None when it has none) and the seq of its
        last operator message (0 when none)."""

    @abc.abstractmethod
    async def conversation_characters(self, conversation: str) -> int:
        """The characters of all stored text of `conversation` (0 when it has none)."""

    @abc.abstractmethod
    async def count_messages(self) -> int: ...

    # messages left
    @abc.abstractmethod
    async def add_left_message(self, message: LeftMessage) -> None: ...

    @abc.abstractmethod
    async def list_left_messages(self, limit: int = 200) -> list[LeftMessage]:
        """Those not handled yet, oldest first."""

    @abc.abstractmethod
    async def get_left_message(self, message_id: str) -> LeftMessage | None: ...

    @abc.abstractmethod
    async def mark_left_message_handled(self, message_id: str, by: str) -> LeftMessage | None:
        """Mark it handled by `by` (an email) now; None when there is no such message."""

    # handovers
    @abc.abstractmethod
    async def save_handover(self, handover: Handover) -> None:
        """Keep it as the conversation's last handover (replacing any earlier)."""

    @abc.abstractmethod
    async def get_handover(self, conversation: str) -> Handover | None: ...

    # canned replies, notes, ratings
    @abc.abstractmethod
    async def list_canned_replies(self, owner_id: str | None) -> list[CannedReply]:
        """The shared replies and `owner_id`'s own (only shared when None), by title."""

    @abc.abstractmethod
    async def save_canned_reply(self, reply: CannedReply) -> None:
        """Add it, or replace the one with its id."""

    @abc.abstractmethod
    async def delete_canned_reply(self, reply_id: str, owner_id: str | None) -> bool:
        """Delete `owner_id`'s reply (a shared one when None); False when there is none."""

    @abc.abstractmethod
    async def add_note(self, note: Note) -> None: ...

    @abc.abstractmethod
    async def list_notes(self, session_id: str) -> list[Note]:
        """Oldest first."""

    @abc.abstractmethod
    async def add_rating(self, rating: Rating) -> bool:
        """Store it; False (and nothing stored) when its conversation was rated already."""

    @abc.abstractmethod
    async def list_ratings(self, since: datetime, until: datetime) -> list[Rating]:
        """Those made in [since, until), oldest first."""

    @abc.abstractmethod
    async def has_rating(self, conversation: str) -> bool: ...

    # reports (state/store/reports.py)
    @abc.abstractmethod
    async def report_totals(self, days: ReportDays) -> ReportTotals:
        """What the reports page draws, counted over `days`."""

    # audit
    @abc.abstractmethod
    async def add_audit(self, entry: AuditEntry) -> None: ...

    @abc.abstractmethod
    async def list_audit(self, limit: int = 200) -> list[AuditEntry]:
        """Newest first."""

    # chat history
    @abc.abstractmethod
    async def list_conversations(self, query: HistoryQuery) -> HistoryPage:
        """Conversations matching the query's filters (its `text` is not used), newest
        (by last_time) first, `limit` of them, from after `before` when given.
        Raise ValueError when `before` is not a cursor this store gave."""

    @abc.abstractmethod
    async def search_messages(self, query: HistoryQuery) -> list[SearchHit]:
        """Messages that contain every word of `query.text` (each word taken as it is:
        no search syntax), in conversations matching the other filters, newest first,
        at most `limit`; none when the text has no word."""
