"""Searchable chat history: each conversation's summary, the history listing and
full-text search over message text. This is SQLite's part; history_mongo.py is
MongoDB's. What counts as a word and how hits are marked is decided once, in
history_words.py, so both stores answer alike.

SQLite keeps the summaries in `conversations` and the index in `messages_fts`, both
brought up to date by `catch_up`: a moment after chat is written (on the event loop's
connection, a chunk at a time between chat batches), before every history query (so
a query always sees every message) and when the store opens.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from state.store.base import (
    ConversationSummary,
    HistoryPage,
    HistoryQuery,
    SearchHit,
    StoreUnavailable,
)
from state.store.history_words import (
    cursor_of,
    folded,
    folded_parts,
    marked,
    page_size,
    parse_cursor,
    quoted,
    search_words,
    sender_name,
)
from state.store.sqlite_rows import from_text, to_text

log = logging.getLogger(__name__)
T = TypeVar("T")

# -- SQLite ----------------------------------------------------------------------------

# How long after a chat write the summaries and the index catch up: long enough that
# one catch-up folds in many batches (FTS5 writes a segment per transaction), short
# enough that a search made meanwhile has little to fold in first.
CATCH_UP_SECONDS = 1.0
# Messages a catch-up folds in at a time, on the event loop (about a millisecond).
# bench/chat.py at its full rate (3,000-4,000 messages a second): folding a second of
# chat at once on the store's thread, which holds the write lock while chat batches wait
# for it, put the p99 of an ack at 70-85 ms; chunks of 100 on the loop at 32-34 ms,
# against 25 ms with no history at all, in the same run.
CATCH_UP_CHUNK = 100

# Searching conversations that hold at most this many messages reads them all (through
# messages_once), keeps those a quick check in Python finds the words in, and has the
# index confirm those, newest first; more, and the index is walked newest first, each
# message it finds checked against the conversations. Either costs a few ms a thousand
# messages at most; bench/history_search.py measures both.
CHECKED_MESSAGES = 5000
# Message ids follow message times (see MESSAGES_TABLE), so a time range is an id range
# the index seeks to. The margin covers messages stored a little out of time order (a
# batch waiting to be written, a clock set back); the times themselves are then compared.
ID_TIME_MARGIN = timedelta(hours=1)
# conversations_people finds substrings of at least this many characters.
TRIGRAM = 3
_HIT_COLUMNS = ("m.conversation, m.session_id, m.seq, m.time, m.sender_role,"
                " m.sender_first_name, m.sender_last_name, m.text")


# One message folded into its conversation's summary, as written in sqlite_rows.py.
# SET reads the summary as it was before this message.
_FOLD_MESSAGES = """
INSERT INTO conversations (conversation, session_id, interview, first_time, last_time, messages,
                           person_name, person_email, operators, first_user_time,
                           first_reply_time, first_reply_operator)
SELECT m.conversation, m.session_id,
       (SELECT interview FROM sessions WHERE id = m.session_id), m.time, m.time, 1,
       CASE WHEN m.sender_role = 'user' AND m.sender_email IS NOT NULL THEN NULLIF(TRIM(
           COALESCE(m.sender_first_name, '') || ' ' || COALESCE(m.sender_last_name, '')), '')
       END,
       CASE WHEN m.sender_role = 'user' THEN m.sender_email END,
       CASE WHEN m.sender_role = 'operator' THEN COALESCE(LOWER(m.sender_email), '') ELSE '' END,
       CASE WHEN m.sender_role = 'user' THEN m.time END,
       CASE WHEN m.sender_role = 'operator' THEN m.time END,
       CASE WHEN m.sender_role = 'operator' THEN LOWER(m.sender_email) END
FROM messages m WHERE m.id > ? AND m.id <= ? ORDER BY m.id
ON CONFLICT (conversation) DO UPDATE SET
    first_time = MIN(first_time, excluded.first_time),
    last_time = MAX(last_time, excluded.last_time),
    messages = messages + 1,
    person_name = CASE WHEN person_email IS NULL THEN excluded.person_name ELSE person_name END,
    person_email = COALESCE(person_email, excluded.person_email),
    operators = CASE WHEN excluded.operators = ''
                          OR INSTR(' ' || operators || ' ', ' ' || excluded.operators || ' ')
                     THEN operators ELSE LTRIM(operators || ' ' || excluded.operators) END,
    first_user_time = COALESCE(first_user_time, excluded.first_user_time),
    first_reply_operator = CASE WHEN first_reply_time IS NULL
                                THEN excluded.first_reply_operator
                                ELSE first_reply_operator END,
    first_reply_time = COALESCE(first_reply_time, excluded.first_reply_time)
"""


def catch_up(connection: sqlite3.Connection, limit: int | None = None) -> int:
    """Fold the messages stored since the last catch-up (at most `limit` of them) into
    the summaries, the operators' lists and the full-text index, in one transaction;
    how many it folded in. Runs on the store's thread (it may wait for the write lock;
    the loop must not)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        low = connection.execute("SELECT last_id FROM history_mark").fetchone()[0]
        high = connection.execute("SELECT MAX(id) FROM messages").fetchone()[0] or 0
        if limit is not None:
            high = min(high, low + limit)
        if high > low:
            connection.execute("INSERT INTO messages_fts (rowid, text)"
                               " SELECT id, text FROM messages WHERE id > ? AND id <= ?",
                               (low, high))
            connection.execute(_FOLD_MESSAGES, (low, high))
            connection.execute(
                "INSERT OR IGNORE INTO conversation_operators (operator, conversation)"
                " SELECT LOWER(sender_email), conversation FROM messages WHERE id > ?"
                " AND id <= ? AND sender_role = 'operator' AND sender_email IS NOT NULL",
                (low, high))
            connection.execute("UPDATE history_mark SET last_id = ?", (high,))
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return max(high - low, 0)


def after_catch_up(work: Callable[[sqlite3.Connection], T]) -> Callable[[sqlite3.Connection], T]:
    """`work`, run once the history has caught up: what every history query runs."""
    def run(connection: sqlite3.Connection) -> T:
        catch_up(connection)
        return work(connection)
    return run


def _casefold(value: str | None) -> str | None:
    return None if value is None else value.casefold()


def _with_casefold(connection: sqlite3.Connection) -> sqlite3.Connection:
    # SQLite's own LOWER and LIKE fold ASCII letters only; names are not all ASCII.
    connection.create_function("history_casefold", 1, _casefold, deterministic=True)
    return connection


def _conversation_filters(query: HistoryQuery) -> tuple[list[str], list[Any]]:
    """SQL conditions on `c` (conversations) for the query's person, interview and
    operator, and their values."""
    where: list[str] = []
    values: list[Any] = []
    person = query.person.strip()
    if len(person) >= TRIGRAM:
        where.append("c.conversation IN (SELECT conversation FROM conversations_people"
                     " WHERE conversations_people MATCH ?)")
        values.append(quoted([person.replace('"', '""')]))
    elif person:  # too short for the trigram index: every summary is read
        where.append("(INSTR(history_casefold(c.person_name), ?) > 0"
                     " OR INSTR(history_casefold(c.person_email), ?) > 0)")
        values += [person.casefold()] * 2
    if interview := query.interview.strip():
        where.append("c.interview = ?")
        values.append(interview)
    if operator := query.operator.strip().lower():
        where.append("c.conversation IN (SELECT conversation FROM conversation_operators"
                     " WHERE operator = ?)")
        values.append(operator)
    return where, values


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def _summary(row: sqlite3.Row) -> ConversationSummary:
    return ConversationSummary(
        conversation=row["conversation"], session_id=row["session_id"],
        interview=row["interview"], first_time=from_text(row["first_time"]),
        last_time=from_text(row["last_time"]), messages=row["messages"],
        person_name=row["person_name"], person_email=row["person_email"],
        operators=row["operators"].split(),
        first_user_time=_moment(row["first_user_time"]),
        first_reply_time=_moment(row["first_reply_time"]),
        first_reply_operator=row["first_reply_operator"])


def _moment(text: str | None) -> datetime | None:
    return from_text(text) if text else None


def _hit(row: sqlite3.Row, words: list[str]) -> SearchHit:
    return SearchHit(conversation=row["conversation"], session_id=row["session_id"],
                     seq=row["seq"], time=from_text(row["time"]),
                     sender_role=row["sender_role"],
                     sender_name=sender_name(row["sender_first_name"], row["sender_last_name"]),
                     text=marked(row["text"], words))


class SQLiteHistory:
    _run: Callable[..., Any]
    _loop_connection: sqlite3.Connection | None
    _catching_up: asyncio.TimerHandle | None = None

    def history_written(self) -> None:
        """Chat was written: catch up in a moment (one catch-up for many writes)."""
        if self._catching_up is None:
            self._catching_up = asyncio.get_running_loop().call_later(
                CATCH_UP_SECONDS, lambda: asyncio.ensure_future(self._catch_up_now()))

    async def _catch_up_now(self) -> None:
        """A chunk at a time on the event loop's own connection, between chat batches:
        never waiting for the write lock (a chunk takes about a millisecond), where the
        store's thread would hold the lock while chat batches wait for it. When another
        connection holds the lock the thread does it, and may wait."""
        self._catching_up = None
        try:
            while True:
                if self._loop_connection is None:
                    return  # closed
                try:
                    folded = catch_up(self._loop_connection, CATCH_UP_CHUNK)
                except sqlite3.OperationalError:  # busy: another connection writes
                    folded = await self._run(lambda c: catch_up(c, CATCH_UP_CHUNK))
                if folded < CATCH_UP_CHUNK:
                    return
                await asyncio.sleep(0)  # chat batches waiting go first
        except StoreUnavailable as exc:  # the next query, or the next write, tries again
            log.warning("history catch-up failed: %s", exc)

    def history_closing(self) -> None:
        if self._catching_up is not None:
            self._catching_up.cancel()
            self._catching_up = None

    async def list_conversations(self, query: HistoryQuery) -> HistoryPage:
        where, values = _conversation_filters(query)
        if query.since is not None:
            where.append("c.last_time >= ?")
            values.append(to_text(query.since))
        if query.until is not None:
            where.append("c.last_time < ?")
            values.append(to_text(query.until))
        if query.before is not None:
            moment, conversation = parse_cursor(query.before)
            where.append("(c.last_time, c.conversation) < (?, ?)")
            values += [to_text(moment), conversation]
        size = page_size(query)
        sql = (f"SELECT c.* FROM conversations c {_where(where)}"
               " ORDER BY c.last_time DESC, c.conversation DESC LIMIT ?")
        rows = await self._run(after_catch_up(lambda c: _with_casefold(c).execute(
            sql, [*values, size + 1]).fetchall()))
        summaries = [_summary(row) for row in rows[:size]]
        return HistoryPage(summaries, cursor_of(summaries[-1]) if len(rows) > size else None)

    async def search_messages(self, query: HistoryQuery) -> list[SearchHit]:
        words = search_words(query.text)
        if not words:
            return []
        rows = await self._run(after_catch_up(lambda c: _search(_with_casefold(c), query, words)))
        return [_hit(row, words) for row in rows]


def _first_id_at(connection: sqlite3.Connection, moment: datetime) -> int:
    """The first message id whose time is `moment` or later (a binary search over ids,
    each step one lookup by id)."""
    # Two queries: SQLite reads MIN or MAX alone from the end of the key, both at once
    # by a scan.
    low = connection.execute("SELECT MIN(id) FROM messages").fetchone()[0]
    if low is None:
        return 0
    high = connection.execute("SELECT MAX(id) FROM messages").fetchone()[0] + 1
    text = to_text(moment)
    while low < high:
        middle = (low + high) // 2
        row = connection.execute("SELECT time FROM messages WHERE id >= ? ORDER BY id LIMIT 1",
                                 (middle,)).fetchone()
        if row is None or row[0] >= text:
            high = middle
        else:
            low = middle + 1
    return low


def _time_range(connection: sqlite3.Connection, query: HistoryQuery,
                id_column: str) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    values: list[Any] = []
    if query.since is not None:
        conditions += [f"{id_column} >= ?", "m.time >= ?"]
        values += [_first_id_at(connection, query.since - ID_TIME_MARGIN), to_text(query.since)]
    if query.until is not None:
        conditions += [f"{id_column} < ?", "m.time < ?"]
        values += [_first_id_at(connection, query.until + ID_TIME_MARGIN), to_text(query.until)]
    return conditions, values


def _search(connection: sqlite3.Connection, query: HistoryQuery,
            words: list[str]) -> list[sqlite3.Row]:
    """Newest first is id order, which the full-text index gives without sorting.
    CROSS JOIN makes SQLite join in the order written."""
    size, match = page_size(query), quoted(words)
    where, values = _conversation_filters(query)
    if where:
        found = connection.execute(f"SELECT c.conversation, c.messages FROM conversations c"
                                   f" {_where(where)}", values).fetchall()
        names = json.dumps([row[0] for row in found])
        if sum(row[1] for row in found) <= CHECKED_MESSAGES:
            return _search_each(connection, query, words, names, size)
    conditions, values = _time_range(connection, query, "f.rowid")
    if where:
        conditions.append("m.conversation IN (SELECT value FROM json_each(?))")
        values.append(names)
    return connection.execute(
        f"SELECT {_HIT_COLUMNS} FROM messages_fts f CROSS JOIN messages m ON m.id = f.rowid"
        f" {_where(['f.messages_fts MATCH ?', *conditions])} ORDER BY f.rowid DESC LIMIT ?",
        [match, *values, size]).fetchall()


def _holds(folded_text: str, parts: list[str]) -> bool:
    return all(part in folded_text for part in parts)


def _search_each(connection: sqlite3.Connection, query: HistoryQuery, words: list[str],
                 names: str, size: int) -> list[sqlite3.Row]:
    """The messages of these conversations (a JSON list) that have the words: those
    whose folded text holds every folded word (all that the index can match, and
    more), confirmed by the index `size` at a time, newest first."""
    conditions, values = _time_range(connection, query, "m.id")
    parts = folded_parts(words)
    candidates = [
        message_id for message_id, text in connection.execute(
            "SELECT m.id, m.text FROM json_each(?) j CROSS JOIN messages m"
            f" ON m.conversation = j.value {_where(conditions)} ORDER BY m.id DESC",
            [names, *values])
        if _holds(folded(text), parts)]
    rows: list[sqlite3.Row] = []
    for start in range(0, len(candidates), size):
        rows += connection.execute(
            f"SELECT {_HIT_COLUMNS} FROM json_each(?) j CROSS JOIN messages_fts f"
            " ON f.rowid = j.value CROSS JOIN messages m ON m.id = f.rowid"
            " WHERE f.messages_fts MATCH ? ORDER BY m.id DESC",
            [json.dumps(candidates[start:start + size]), quoted(words)]).fetchall()
        if len(rows) >= size:
            break
    return rows[:size]
