"""Searchable chat history on every store: conversation summaries kept as messages are
stored, the history listing (newest first, paged, filtered) and full-text search with
marked hits. The SQLite-only part at the end covers the schema 5 -> 6 migration and
both ways the SQLite store searches filtered conversations."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from state.store import history
from state.store.base import (
    MARK_END,
    MARK_START,
    ChatMessage,
    HistoryQuery,
    SessionRecord,
    Store,
    new_id,
)
from state.store.sqlite import SQLiteStore
from tests import test_store_contract
from tests.store_helpers import MOMENT

# The contract's fixtures: each test of this module runs on every store the contract does.
make_store = test_store_contract.make_store
store = test_store_contract.store

OLGA = ("operator", "Olga@Example.org", "Olga", "Krause")
BOB = ("operator", "bob@example.org", "Bob", None)
ADA = ("user", "ada@example.org", "Ada", "Lovelace")
ANONYMOUS = ("user", None, None, None)


def marks(word: str) -> str:
    return f"{MARK_START}{word}{MARK_END}"


async def say(store: Store, conversation: str, text: str, minute: float,
              who: tuple = ANONYMOUS, session: str = "s-1") -> ChatMessage:
    role, email, first, last = who
    stored, _ = await store.add_message(ChatMessage(
        conversation=conversation, session_id=session, sender_key=f"k:{email}", sender_role=role,
        text=text, client_id=new_id(), sender_email=email, sender_first_name=first,
        sender_last_name=last, time=MOMENT + timedelta(minutes=minute)))
    return stored


async def sessions(store: Store, **interviews: str) -> None:
    for session, interview in interviews.items():
        await store.save_session(SessionRecord(id=session, interview=interview))


async def listed(store: Store, **filters) -> list[str]:
    page = await store.list_conversations(HistoryQuery(**filters))
    return [summary.conversation for summary in page.conversations]


async def found(store: Store, text: str, **filters) -> list[tuple[str, int]]:
    hits = await store.search_messages(HistoryQuery(text=text, **filters))
    return [(hit.conversation, hit.seq) for hit in hits]


# -- summaries ---------------------------------------------------------------------------


async def test_a_summary_counts_messages_and_names_the_people(store: Store) -> None:
    await sessions(store, **{"s-1": "tenancy"})
    await say(store, "c-1", "hello, anyone?", 0)  # before signing in: no name yet
    await say(store, "c-1", "Hi, Olga here", 1, OLGA)
    await say(store, "c-1", "I signed in", 2, ADA)
    await say(store, "c-1", "Bob taking over", 3, BOB)
    await say(store, "c-1", "back again", 4, OLGA)
    await say(store, "c-1", "someone else typing", 5, ("user", "eve@example.org", "Eve", ""))
    page = await store.list_conversations(HistoryQuery())
    [summary] = page.conversations
    assert (summary.conversation, summary.session_id, summary.interview) == (
        "c-1", "s-1", "tenancy")
    assert summary.messages == 6
    assert (summary.first_time, summary.last_time) == (MOMENT, MOMENT + timedelta(minutes=5))
    assert (summary.person_name, summary.person_email) == ("Ada Lovelace", "ada@example.org")
    assert summary.operators == ["olga@example.org", "bob@example.org"]
    assert (summary.first_user_time, summary.first_reply_time, summary.first_reply_operator) == (
        MOMENT, MOMENT + timedelta(minutes=1), "olga@example.org")
    assert page.next_before is None
    assert await listed(store, person="lovelace") == ["c-1"]  # named after it began
    assert await listed(store, person="eve") == []


async def test_an_anonymous_conversation_has_no_person_nor_operators(store: Store) -> None:
    await say(store, "c-1", "just me", 0)
    [summary] = (await store.list_conversations(HistoryQuery())).conversations
    assert (summary.person_name, summary.person_email, summary.operators) == (None, None, [])
    assert (summary.first_user_time, summary.first_reply_time, summary.first_reply_operator) == (
        MOMENT, None, None)
    assert summary.interview is None  # no session stored


async def test_a_resent_message_is_counted_once(store: Store) -> None:
    message = ChatMessage(conversation="c-1", session_id="s-1", sender_key="b:1",
                          sender_role="user", text="once", client_id="same", time=MOMENT)
    await store.add_message(message)
    await store.add_message(message)
    [summary] = (await store.list_conversations(HistoryQuery())).conversations
    assert summary.messages == 1


# -- listing -----------------------------------------------------------------------------


async def test_listing_is_newest_first_in_pages(store: Store) -> None:
    for number, minute in enumerate([10, 50, 30, 30, 20]):
        await say(store, f"c-{number}", "hello", minute)
    # Newest by last_time; c-2 and c-3 ended at the same moment: by conversation, down,
    # and the page ends between the two.
    first = await store.list_conversations(HistoryQuery(limit=2))
    assert [s.conversation for s in first.conversations] == ["c-1", "c-3"]
    second = await store.list_conversations(HistoryQuery(limit=2, before=first.next_before))
    assert [s.conversation for s in second.conversations] == ["c-2", "c-4"]
    last = await store.list_conversations(HistoryQuery(limit=2, before=second.next_before))
    assert [s.conversation for s in last.conversations] == ["c-0"]
    assert last.next_before is None


async def test_a_conversation_moves_up_when_it_goes_on(store: Store) -> None:
    await say(store, "old", "first", 0)
    await say(store, "new", "second", 1)
    await say(store, "old", "again", 2)
    assert await listed(store) == ["old", "new"]


async def test_a_cursor_the_store_did_not_give_is_refused(store: Store) -> None:
    for cursor in ("", "garbage", "2024-05-06T07:08:09.123 c-1", "2024-05-06T07:08:09+00:00"):
        with pytest.raises(ValueError):
            await store.list_conversations(HistoryQuery(before=cursor))


async def test_listing_by_person_matches_part_of_the_name_or_email(store: Store) -> None:
    await say(store, "ada", "hi", 0, ADA)
    await say(store, "zoe", "hi", 1, ("user", "zoe@example.net", "Zoë", "Øster"))
    await say(store, "anon", "hi", 2)
    assert await listed(store, person="LOVE") == ["ada"]
    assert await listed(store, person="ada@EXAMPLE") == ["ada"]
    assert await listed(store, person="example") == ["zoe", "ada"]
    assert await listed(store, person="ØSTER") == ["zoe"]  # not ASCII: still any case
    assert await listed(store, person="oë") == ["zoe"]  # shorter than a trigram
    assert await listed(store, person="@") == ["zoe", "ada"]
    assert await listed(store, person='"Ada" OR x') == []
    assert await listed(store, person="nobody") == []


async def test_listing_by_interview_operator_and_time(store: Store) -> None:
    await sessions(store, **{"s-1": "tenancy", "s-2": "debt"})
    await say(store, "one", "hi", 0, OLGA, session="s-1")
    await say(store, "two", "hi", 10, BOB, session="s-2")
    await say(store, "three", "hi", 20, OLGA, session="s-2")
    assert await listed(store, interview="debt") == ["three", "two"]
    assert await listed(store, interview="deb") == []  # exact names only
    assert await listed(store, operator="OLGA@example.org") == ["three", "one"]
    assert await listed(store, operator="olga") == []  # a whole email
    assert await listed(store, operator="olga@example.org", interview="debt") == ["three"]
    assert await listed(store, since=MOMENT + timedelta(minutes=10)) == ["three", "two"]
    assert await listed(store, until=MOMENT + timedelta(minutes=10)) == ["one"]


# -- search ------------------------------------------------------------------------------


async def test_a_hit_tells_where_it_was_said_with_the_words_marked(store: Store) -> None:
    await say(store, "c-1", "Where is my deposit?", 0, ADA)
    await say(store, "c-1", "Your DEPOSIT is held by the landlord; deposits take time.", 1, OLGA)
    await say(store, "c-1", "thanks", 2, ADA)
    hits = await store.search_messages(HistoryQuery(text="Deposit"))
    assert [(hit.seq, hit.sender_role, hit.sender_name) for hit in hits] == [
        (2, "operator", "Olga Krause"), (1, "user", "Ada Lovelace")]
    assert hits[0].text == (f"Your {marks('DEPOSIT')} is held by the landlord; deposits take"
                            " time.")
    assert hits[1].text == f"Where is my {marks('deposit')}?"
    assert (hits[0].conversation, hits[0].session_id, hits[0].time) == (
        "c-1", "s-1", MOMENT + timedelta(minutes=1))


async def test_a_search_finds_messages_with_every_word_in_any_order(store: Store) -> None:
    await say(store, "c-1", "child support is due", 0)
    await say(store, "c-1", "support for the child", 1)
    await say(store, "c-1", "child care", 2)
    assert await found(store, "child support") == [("c-1", 2), ("c-1", 1)]
    hits = await store.search_messages(HistoryQuery(text="support child"))
    assert hits[0].text == f"{marks('support')} for the {marks('child')}"


async def test_accents_and_case_do_not_matter(store: Store) -> None:
    await say(store, "c-1", "Rendez-vous au Café", 0)
    hits = await store.search_messages(HistoryQuery(text="cafe"))
    assert [hit.text for hit in hits] == [f"Rendez-vous au {marks('Café')}"]


@pytest.mark.parametrize("text", [
    '"child support" OR x', "child AND NOT support x", "child* -support x:",
    "(child) support^ x", 'NEAR (child support) x "', "child + support + x",
    "child\\ support x\\"])
async def test_search_syntax_typed_is_just_words(store: Store, text: str) -> None:
    """Each word must be in the message, operators and quotes included (read as FTS5 or
    $text syntax, the first would also find "child support" and "x" alone)."""
    await say(store, "c-1", "child support", 0)
    await say(store, "c-1", "x", 1)
    await say(store, "c-1", "child support or and not near x", 2)
    assert await found(store, text) == [("c-1", 3)]


async def test_marks_typed_in_a_message_are_not_taken_for_ours(store: Store) -> None:
    await say(store, "c-1", f"a {MARK_START}fake{MARK_END} mark and a deposit", 0)
    [hit] = await store.search_messages(HistoryQuery(text="deposit"))
    assert hit.text == f"a fake mark and a {marks('deposit')}"


async def test_nothing_found(store: Store) -> None:
    await say(store, "c-1", "hello there", 0, ADA)
    assert await found(store, "goodbye") == []
    assert await found(store, "hello goodbye") == []
    assert await found(store, "") == []
    assert await found(store, ' " - * ') == []  # no word in it
    assert await found(store, "hello", person="nobody") == []
    assert await found(store, "hello", since=MOMENT + timedelta(minutes=1)) == []
    page = await store.list_conversations(HistoryQuery(interview="none"))
    assert (page.conversations, page.next_before) == ([], None)


async def test_search_is_newest_first_up_to_the_limit(store: Store) -> None:
    for minute in range(6):
        await say(store, f"c-{minute % 2}", f"note {minute}", minute)
    assert await found(store, "note", limit=4) == [("c-1", 3), ("c-0", 3), ("c-1", 2),
                                                   ("c-0", 2)]


async def test_search_filters(store: Store) -> None:
    await sessions(store, **{"s-1": "tenancy", "s-2": "debt"})
    await say(store, "ada", "rent question", 0, ADA, session="s-1")
    await say(store, "ada", "rent answer", 1, OLGA, session="s-1")
    await say(store, "anon", "rent too high", 2, session="s-2")
    await say(store, "anon", "rent advice", 3, BOB, session="s-2")
    assert await found(store, "rent", person="lovelace") == [("ada", 2), ("ada", 1)]
    assert await found(store, "rent", person="ov") == [("ada", 2), ("ada", 1)]
    assert await found(store, "rent", interview="debt") == [("anon", 2), ("anon", 1)]
    assert await found(store, "rent", operator="bob@example.org") == [("anon", 2), ("anon", 1)]
    assert await found(store, "rent", operator="bob@example.org", person="ada") == []
    # A search's times bound the messages (not the conversations' last times).
    assert await found(store, "rent", since=MOMENT + timedelta(minutes=1),
                       until=MOMENT + timedelta(minutes=3)) == [("anon", 1), ("ada", 2)]


# -- SQLite only -------------------------------------------------------------------------

def folded_through(path: Path) -> int:
    """The last message id the history has folded in, read from the file."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT last_id FROM history_mark").fetchone()[0]


async def test_chat_reaches_the_history_a_moment_after_it_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In chunks (two messages here), so that chat never waits long for the lock."""
    monkeypatch.setattr(history, "CATCH_UP_SECONDS", 0.01)
    monkeypatch.setattr(history, "CATCH_UP_CHUNK", 2)
    path = tmp_path / "livehelp.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    try:
        for minute in range(5):
            await store.add_message(ChatMessage(
                conversation="c-1", session_id="s-1", sender_key="k", sender_role="user",
                text=f"deposit {minute}", client_id=str(minute)))
        for _ in range(1000):  # the sentinel: the catch-up has run, no query asked for it
            if folded_through(path) == 5:
                break
            await asyncio.sleep(0.01)
        assert folded_through(path) == 5
    finally:
        await store.close()


async def test_a_catch_up_that_finds_the_file_busy_waits_on_the_store_thread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop's connection never waits for the lock: while another connection holds
    it (a backup, say), the store's thread folds the messages in once it is free."""
    monkeypatch.setattr(history, "CATCH_UP_SECONDS", 3600)
    path = tmp_path / "livehelp.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        await say(store, "c-1", "deposit", 0)
        other.execute("BEGIN IMMEDIATE")  # the write lock, held elsewhere
        catching_up = asyncio.ensure_future(store._catch_up_now())
        await asyncio.sleep(0)  # its first step: refused the lock on the loop, to the thread
        other.execute("COMMIT")
        await asyncio.wait_for(catching_up, 10)
        assert folded_through(path) == 1
    finally:
        other.close()
        await store.close()


async def test_a_query_and_a_reopened_store_fold_in_what_was_not_yet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "CATCH_UP_SECONDS", 3600)
    path = tmp_path / "livehelp.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    await say(store, "c-1", "deposit one", 0)
    assert folded_through(path) == 0  # the write itself folds nothing in
    assert await found(store, "deposit") == [("c-1", 1)]  # a query catches up first
    await say(store, "c-1", "deposit two", 1)
    await store.close()  # as a crash would: the second message not folded in
    assert folded_through(path) == 1
    store = SQLiteStore(path)
    await store.open()
    try:
        assert folded_through(path) == 2
        assert await found(store, "deposit") == [("c-1", 2), ("c-1", 1)]
    finally:
        await store.close()


V6_MESSAGES = """
DROP TABLE messages_fts; DROP TABLE conversations; DROP TABLE conversations_people;
DROP TABLE conversation_operators; DROP TABLE history_mark;
CREATE TABLE messages_6 (
    conversation TEXT NOT NULL, seq INTEGER NOT NULL, session_id TEXT NOT NULL,
    sender_key TEXT NOT NULL, sender_role TEXT NOT NULL, text TEXT NOT NULL,
    client_id TEXT NOT NULL, sender_email TEXT, sender_first_name TEXT,
    sender_last_name TEXT, time TEXT NOT NULL);
INSERT INTO messages_6 SELECT conversation, seq, session_id, sender_key, sender_role, text,
    client_id, sender_email, sender_first_name, sender_last_name, time
    FROM messages ORDER BY conversation DESC, seq;
DROP TABLE messages;
ALTER TABLE messages_6 RENAME TO messages;
CREATE UNIQUE INDEX messages_once ON messages (conversation, sender_key, client_id);
PRAGMA user_version = 6;
"""


async def test_a_version_6_file_gains_summaries_and_a_full_text_index(tmp_path: Path) -> None:
    """The migration numbers messages in time order (the order a search lists them)
    and writes each conversation's summary as chat would have."""
    path = tmp_path / "livehelp.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    await sessions(store, **{"s-1": "tenancy"})
    await say(store, "a", "deposit one", 0, ADA)
    await say(store, "b", "deposit two", 1, BOB, session="s-2")
    await say(store, "a", "deposit three", 2, OLGA)
    before = await store.list_conversations(HistoryQuery())
    await store.close()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.executescript(V6_MESSAGES)
    store = SQLiteStore(path)
    await store.open()
    try:
        assert await store.list_conversations(HistoryQuery()) == before
        assert await found(store, "deposit") == [("a", 2), ("b", 1), ("a", 1)]
        assert await found(store, "deposit", person="ada") == [("a", 2), ("a", 1)]
        await say(store, "b", "deposit four", 3, ADA, session="s-2")
        assert await found(store, "four") == [("b", 2)]
    finally:
        await store.close()


@pytest.fixture(params=["each conversation", "the index walked"])
async def sqlite_store(request: pytest.FixtureRequest, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> SQLiteStore:
    """A SQLite store that searches filtered conversations one way or the other: by
    reading their messages (few), or by walking the index (many: here any)."""
    if request.param == "the index walked":
        monkeypatch.setattr(history, "CHECKED_MESSAGES", 0)
    opened = SQLiteStore(tmp_path / "livehelp.sqlite3")
    await opened.open()
    yield opened
    await opened.close()


async def test_sqlite_filtered_search_answers_alike_both_ways(sqlite_store: SQLiteStore) -> None:
    await say(sqlite_store, "ada", "rent question", 0, ADA)
    await say(sqlite_store, "ada", "Rent answer café", 1, OLGA)
    await say(sqlite_store, "other", "rent elsewhere", 2, BOB)
    await say(sqlite_store, "ada", "no word here", 3, ADA)
    await say(sqlite_store, "ada", "rental is not rent-free", 4, ADA)
    await say(sqlite_store, "ada", "rental only, and currently", 5, ADA)  # no word "rent"
    assert await found(sqlite_store, "rent", person="ada") == [("ada", 4), ("ada", 2),
                                                                 ("ada", 1)]
    assert await found(sqlite_store, "rent cafe", operator="olga@example.org") == [("ada", 2)]
    assert await found(sqlite_store, "rent", person="ada", limit=1) == [("ada", 4)]
    assert await found(sqlite_store, "rent", person="ada",
                       until=MOMENT + timedelta(minutes=4)) == [("ada", 2), ("ada", 1)]
