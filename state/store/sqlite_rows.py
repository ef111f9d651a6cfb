"""The SQLite store's schema and migrations, and the mapping between its rows and
the store's records (see sqlite.py for the store itself)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from state.store.base import (
    SCHEMA_VERSION,
    AuditEntry,
    ChatMessage,
    SessionRecord,
    SignIn,
    User,
)

# The database file, its -wal and -shm: owner only (other local accounts must not read
# password hashes or chat).
PRIVATE_FILE_MODE = 0o600
# Values bound in one "IN (...)" query: SQLite before 3.32 allows 999 parameters.
IN_CHUNK = 500

MESSAGE_COLUMNS = (
    "conversation, seq, session_id, sender_key, sender_role, text, client_id, "
    "sender_email, sender_first_name, sender_last_name, time"
)

# Chat messages. (conversation, seq) is unique without an index saying so: every
# index costs each insert a scattered page write (about 10 us a message, measured),
# and one process writes chat (see writer_lock.py), numbering each
# conversation from the highest seq it holds. messages_once makes resends harmless
# and serves every lookup by conversation. `id` is the rowid, named (no index of its
# own) because the full-text index refers to messages by it and VACUUM may renumber
# an unnamed rowid; ids grow as messages are stored, so id order is time order.
MESSAGES_TABLE = """
CREATE TABLE {name} (
    id INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL,
    seq INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    sender_role TEXT NOT NULL,
    text TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sender_email TEXT, sender_first_name TEXT, sender_last_name TEXT,
    time TEXT NOT NULL
);
"""
MESSAGES_INDEX = """
CREATE UNIQUE INDEX messages_once ON messages (conversation, sender_key, client_id);
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_lower TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    first_name TEXT NOT NULL, last_name TEXT NOT NULL,
    privileges TEXT NOT NULL, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS operator_settings (
    user_id TEXT PRIMARY KEY,
    available INTEGER NOT NULL,
    roles TEXT NOT NULL,
    phone TEXT NOT NULL,
    capacity INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    interview TEXT NOT NULL,
    owner_id TEXT,
    answers TEXT NOT NULL, progress TEXT NOT NULL, live_help TEXT NOT NULL,
    blocked INTEGER NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_updated ON sessions (updated);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id TEXT NOT NULL,
    actor_email TEXT NOT NULL,
    action TEXT NOT NULL,
    session_id TEXT NOT NULL, detail TEXT NOT NULL, time TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (time);
"""
SCHEMA += MESSAGES_TABLE.format(name="messages") + MESSAGES_INDEX

# Sign-ins, keyed by the hash of the id their cookie carries. sign_ins_by_user serves
# "end every sign-in of this account"; stale ones are removed by last_seen / created
# (a rare housekeeping scan, so no index for those).
SIGN_INS_TABLE = """
CREATE TABLE IF NOT EXISTS sign_ins (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sign_ins_by_user ON sign_ins (user_id);
"""
SCHEMA += SIGN_INS_TABLE

# Messages left when no operator could chat; the Monitor lists those not handled,
# oldest first (left_open).
LEFT_MESSAGES_TABLE = """
CREATE TABLE IF NOT EXISTS left_messages (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL, interview TEXT NOT NULL, conversation TEXT NOT NULL,
    text TEXT NOT NULL, contact TEXT NOT NULL, name TEXT,
    created TEXT NOT NULL, handled_by TEXT, handled_at TEXT
);
CREATE INDEX IF NOT EXISTS left_open ON left_messages (handled_by, created);
"""
SCHEMA += LEFT_MESSAGES_TABLE

# The last handover of each help conversation (closed, transferred): survives a restart.
HANDOVERS_TABLE = """
CREATE TABLE IF NOT EXISTS handovers (
    conversation TEXT PRIMARY KEY, operator_id TEXT, closed_by TEXT,
    transfer_from TEXT NOT NULL, transfer_note TEXT NOT NULL, time TEXT NOT NULL
);
"""
SCHEMA += HANDOVERS_TABLE

# Operators' tools: saved answers, notes about a session, the users' ratings.
DESK_TABLES = """
CREATE TABLE IF NOT EXISTS canned_replies (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, owner_id TEXT,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS canned_by_owner ON canned_replies (owner_id);
CREATE TABLE IF NOT EXISTS notes (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL, author_id TEXT NOT NULL,
    author_name TEXT NOT NULL, text TEXT NOT NULL, created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_by_session ON notes (session_id, created);
CREATE TABLE IF NOT EXISTS ratings (
    id TEXT PRIMARY KEY, conversation TEXT NOT NULL UNIQUE, session_id TEXT NOT NULL,
    interview TEXT NOT NULL, score INTEGER NOT NULL, comment TEXT NOT NULL,
    operator_id TEXT, created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ratings_by_time ON ratings (created);
"""
SCHEMA += DESK_TABLES

# Searchable history. A summary per conversation and a full-text index of message text,
# both brought up to date by history.catch_up (on the store's thread, a moment after
# chat is written and before every history query), never by the chat write itself:
# a trigger on each message tripled what a chat write costs the event loop. Folding
# in messages in id order, a conversation's summary takes the interview from its
# session when it begins; the interviewee from the first user message that names
# someone (signed in); `operators` holds the lower-case emails of those who wrote,
# space-delimited, first seen first; first_user_time and first_reply_time (with its
# operator) the first message of each side. conversations_people finds the named by
# any part of the name or email (trigrams: three characters or more, any case),
# written once, when a conversation gets its person; conversation_operators finds an
# operator's. history_mark holds the last message id folded in.
CONVERSATIONS_TABLE = """
CREATE TABLE conversations (
    conversation TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    interview TEXT,
    first_time TEXT NOT NULL,
    last_time TEXT NOT NULL,
    messages INTEGER NOT NULL,
    person_name TEXT,
    person_email TEXT,
    operators TEXT NOT NULL,
    first_user_time TEXT,
    first_reply_time TEXT,
    first_reply_operator TEXT
) WITHOUT ROWID;
CREATE INDEX conversations_by_last_time ON conversations (last_time);
CREATE TABLE conversation_operators (
    operator TEXT NOT NULL, conversation TEXT NOT NULL, PRIMARY KEY (operator, conversation)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE conversations_people USING fts5(
    conversation UNINDEXED, person_name, person_email, tokenize = 'trigram');
CREATE TRIGGER conversations_named_at_start AFTER INSERT ON conversations
    WHEN NEW.person_email IS NOT NULL BEGIN
    INSERT INTO conversations_people (conversation, person_name, person_email)
        VALUES (NEW.conversation, NEW.person_name, NEW.person_email);
END;
CREATE TRIGGER conversations_named AFTER UPDATE OF person_email ON conversations
    WHEN OLD.person_email IS NULL AND NEW.person_email IS NOT NULL BEGIN
    INSERT INTO conversations_people (conversation, person_name, person_email)
        VALUES (NEW.conversation, NEW.person_name, NEW.person_email);
END;
CREATE TABLE history_mark (last_id INTEGER NOT NULL);
INSERT INTO history_mark VALUES (0);
"""
# Full-text index of message text (external content: the text is kept once, in
# messages). Messages are never updated or deleted, so adding is all it needs.
MESSAGES_FTS = """
CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id');
"""
SCHEMA += CONVERSATIONS_TABLE + MESSAGES_FTS

# Steps from each older schema version to the next, run in one transaction each.
MIGRATIONS = {
    # 1 -> 2: messages lose their (conversation, seq) primary key.
    1: MESSAGES_TABLE.format(name="messages_2") + f"""
INSERT INTO messages_2 ({MESSAGE_COLUMNS})
    SELECT {MESSAGE_COLUMNS} FROM messages ORDER BY conversation, seq;
DROP TABLE messages;
ALTER TABLE messages_2 RENAME TO messages;
""" + MESSAGES_INDEX,
    # 2 -> 3: server-side sign-ins; cookies made before name no sign-in and sign in again.
    2: SIGN_INS_TABLE,
    # 3 -> 4: each operator's own capacity (NULL: the configured one); messages left.
    3: "ALTER TABLE operator_settings ADD COLUMN capacity INTEGER;" + LEFT_MESSAGES_TABLE,
    # 4 -> 5: the last handover of each conversation.
    4: HANDOVERS_TABLE,
    # 5 -> 6: canned replies, notes, ratings.
    5: DESK_TABLES,
    # 6 -> 7: messages gain `id`, numbered in time order; the summaries and the index
    # are then built by the first catch-up (history.catch_up), when the store opens.
    # The drops are for a file whose version was set back by hand.
    6: "".join(f"DROP TABLE IF EXISTS {table};" for table in (
        "messages_fts", "conversations", "conversations_people", "conversation_operators",
        "history_mark")) + MESSAGES_TABLE.format(name="messages_7") + f"""
INSERT INTO messages_7 ({MESSAGE_COLUMNS})
    SELECT {MESSAGE_COLUMNS} FROM messages ORDER BY time, conversation, seq;
DROP TABLE messages;
ALTER TABLE messages_7 RENAME TO messages;
""" + MESSAGES_INDEX + CONVERSATIONS_TABLE + MESSAGES_FTS,
}


def migrate(connection: sqlite3.Connection) -> None:
    """Create the schema in a new file, or bring an older one up to SCHEMA_VERSION."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise sqlite3.OperationalError(
            f"schema version {version} is newer than this program ({SCHEMA_VERSION})")
    if version == 0:  # a new file
        connection.executescript(SCHEMA)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    for step in range(version or SCHEMA_VERSION, SCHEMA_VERSION):
        connection.executescript(
            f"BEGIN IMMEDIATE; {MIGRATIONS[step]} PRAGMA user_version = {step + 1}; COMMIT;")


def to_text(moment: datetime) -> str:
    """UTC ISO text, always with milliseconds, so that text order is time order."""
    if moment.tzinfo is None:  # naive times in this code base mean UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def user_from_row(row: sqlite3.Row) -> User:
    return User(id=row["id"], email=row["email"], password_hash=row["password_hash"],
                first_name=row["first_name"], last_name=row["last_name"],
                privileges=json.loads(row["privileges"]), created=from_text(row["created"]))


def session_from_row(row: sqlite3.Row) -> SessionRecord:
    return SessionRecord(id=row["id"], interview=row["interview"], owner_id=row["owner_id"],
                         answers=json.loads(row["answers"]), progress=json.loads(row["progress"]),
                         live_help=json.loads(row["live_help"]), blocked=bool(row["blocked"]),
                         created=from_text(row["created"]), updated=from_text(row["updated"]))


def message_from_row(row: sqlite3.Row) -> ChatMessage:
    values = dict(row)
    values["time"] = from_text(values["time"])
    return ChatMessage(**values)


def sign_in_from_row(row: sqlite3.Row) -> SignIn:
    return SignIn(id_hash=row["id_hash"], user_id=row["user_id"],
                  created=from_text(row["created"]), last_seen=from_text(row["last_seen"]))


def audit_from_row(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(actor_id=row["actor_id"], actor_email=row["actor_email"],
                      action=row["action"], session_id=row["session_id"],
                      detail=row["detail"], time=from_text(row["time"]))


def insert_message(connection: sqlite3.Connection, message: ChatMessage, time_text: str,
                   last_seq: dict[str, int]) -> tuple[sqlite3.Row | None, int]:
    """Inside a transaction: (stored row, 0) for a repeat, else (None, the new seq).

    `last_seq` caches each conversation's highest seq: chat batches are written one
    at a time, by the one process that writes chat (writer_lock.py), so the
    cache is exact and the common case is a single INSERT; a repeat is told apart by
    the unique index."""
    conversation = message.conversation
    seq = last_seq.get(conversation)
    if seq is None:
        seq = connection.execute("SELECT COALESCE(MAX(seq), 0) FROM messages"
                                 " WHERE conversation = ?", (conversation,)).fetchone()[0]
    try:
        connection.execute(
            f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (conversation, seq + 1, message.session_id, message.sender_key,
             message.sender_role, message.text, message.client_id, message.sender_email,
             message.sender_first_name, message.sender_last_name, time_text))
    except sqlite3.IntegrityError:
        existing = connection.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages"
            " WHERE conversation = ? AND sender_key = ? AND client_id = ?",
            (conversation, message.sender_key, message.client_id)).fetchone()
        if existing is None:
            raise
        last_seq[conversation] = seq
        return existing, 0
    last_seq[conversation] = seq + 1
    return None, seq + 1


def select_in(connection: sqlite3.Connection, table: str, column: str,
              values: list[str]) -> list[sqlite3.Row]:
    """Rows of `table` whose `column` is one of `values` (our own table and column
    names only), in chunks that stay under SQLite's limit on bound parameters."""
    unique = list(dict.fromkeys(values))
    rows: list[sqlite3.Row] = []
    for start in range(0, len(unique), IN_CHUNK):
        chunk = unique[start:start + IN_CHUNK]
        rows += connection.execute(f"SELECT * FROM {table} WHERE {column} IN"
                                   f" ({', '.join('?' * len(chunk))})", chunk).fetchall()
    return rows


def make_private(path: Path) -> None:
    """Create the database file readable and writable by its owner only (it holds
    password hashes and chat), and tighten an existing one with its -wal and -shm.
    SQLite gives the -wal and -shm files it creates the database file's mode."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE))
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.with_name(name), PRIVATE_FILE_MODE)


def open_connection(path: Path, busy_timeout_ms: int,
                    check_same_thread: bool = True) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is
    # exactly what SQLiteStore._transaction() says and nothing is left open between calls.
    connection = sqlite3.connect(path, check_same_thread=check_same_thread, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
    # NORMAL in WAL mode: a power cut may lose the last commits but never corrupts
    # the file; FULL would cost an fsync per chat message.
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def checkpoint(connection: sqlite3.Connection) -> None:
    # PASSIVE: copies what it can without waiting for, or blocking, anybody.
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
