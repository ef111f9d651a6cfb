"""The SQLite store's own behaviour, beyond the contract every store passes
(tests/test_store_contract.py): opening, migration, one chat writer, chat batches
written on the event loop, and checkpoints."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from state.store import sqlite as sqlite_store
from state.store.base import SCHEMA_VERSION, AuditEntry, SessionRecord, StoreUnavailable
from state.store.sqlite import SQLiteStore
from tests.store_helpers import a_message, a_user


async def test_sqlite_store_that_cannot_open_its_file_is_unavailable(tmp_path: Path) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    with pytest.raises(StoreUnavailable):
        await SQLiteStore(directory).open()


V1_MESSAGES = """
ALTER TABLE operator_settings DROP COLUMN capacity;
DROP TABLE messages;
CREATE TABLE messages (
    conversation TEXT NOT NULL, seq INTEGER NOT NULL, session_id TEXT NOT NULL,
    sender_key TEXT NOT NULL, sender_role TEXT NOT NULL, text TEXT NOT NULL,
    client_id TEXT NOT NULL, sender_email TEXT, sender_first_name TEXT,
    sender_last_name TEXT, time TEXT NOT NULL, PRIMARY KEY (conversation, seq));
CREATE UNIQUE INDEX messages_once ON messages (conversation, sender_key, client_id);
INSERT INTO messages VALUES ('conv-1', 1, 'session-1', 'u:ada', 'user', 'from version 1',
    'old-1', NULL, NULL, NULL, '2026-01-02T03:04:05.678+00:00');
PRAGMA user_version = 1;
"""


async def test_sqlite_store_migrates_a_version_1_file(tmp_path: Path) -> None:
    """Version 2 drops the (conversation, seq) primary key; messages are kept, and
    numbering and resends go on as before."""
    path = tmp_path / "livehelp.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    user = await store.create_user(a_user())
    await store.close()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.executescript(V1_MESSAGES)
    store = SQLiteStore(path)
    await store.open()
    try:
        old = (await store.get_messages("conv-1"))[0]
        assert (old.seq, old.text, old.client_id) == (1, "from version 1", "old-1")
        assert await store.get_user(user.id) == user
        again, created = await store.add_message(a_message(client_id="old-1"))
        assert not created and again == old
        new, created = await store.add_message(a_message(text="from version 2"))
        assert created and new.seq == 2
    finally:
        await store.close()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        table = connection.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'messages'").fetchone()[0]
        assert "PRIMARY KEY (conversation, seq)" not in table


async def test_sqlite_chat_has_one_writer_process(tmp_path: Path) -> None:
    """Seqs are numbered from a cache that only one writer keeps exact: a second store
    on the same file (another server) is refused chat, with words saying why, while
    everything else still works; once the first closes, the second may write chat."""
    path = tmp_path / "livehelp.sqlite3"
    first, second = SQLiteStore(path), SQLiteStore(path)
    await first.open()
    await second.open()
    try:
        await first.add_message(a_message(text="one"))
        refused = r"another livehelp server \(pid \d+\) writes chat"
        with pytest.raises(StoreUnavailable, match=refused):
            await second.add_message(a_message(text="two"))
        await second.create_user(a_user())  # accounts, sessions, audit: not chat
        await first.close()
        stored, created = await second.add_message(a_message(text="two"))
        assert created and stored.seq == 2
    finally:
        await first.close()
        await second.close()


# No single step of the event loop may take this long while the store waits for a
# lock. A store that waited on the loop itself would stall it for the whole wait:
# BUSY_TIMEOUT_MS (5 s), since the lock is released by this test, on the loop.
LONGEST_STEP_SECONDS = 0.25
# How long the other connection holds the write lock.
LOCK_HELD_SECONDS = 0.3


@contextlib.contextmanager
def slow_loop_steps(threshold: float) -> Iterator[list[tuple[str, float]]]:
    """asyncio's own blocking detector, on for the block: in debug mode the event loop
    times every callback it runs (each step of a task is one) and logs those that took
    `slow_callback_duration` or longer. Yields the (callback, seconds) of each such step.
    Time spent waiting for I/O or timers is not a step, so an idle loop reports nothing."""
    loop = asyncio.get_running_loop()
    slow: list[tuple[str, float]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if str(record.msg).startswith("Executing %s took"):
                slow.append((str(record.args[0]), float(record.args[1])))

    handler = Collect(logging.WARNING)
    logger = logging.getLogger("asyncio")
    debug, duration = loop.get_debug(), loop.slow_callback_duration
    logger.addHandler(handler)
    loop.slow_callback_duration = threshold
    loop.set_debug(True)
    try:
        yield slow
    finally:
        loop.set_debug(debug)
        loop.slow_callback_duration = duration
        logger.removeHandler(handler)


async def test_sqlite_writes_wait_for_another_writer_without_blocking_the_loop(
        tmp_path: Path) -> None:
    """Chat batches are written on the event loop, which must never wait for a lock:
    while another connection holds the write lock, the batch goes to the store's
    thread, as every other write does; the loop keeps running (no step of it takes
    long), and everything is stored once the lock is free."""
    path = tmp_path / "livehelp.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        await store.add_message(a_message(text="before"))
        record = SessionRecord(id="session-1", interview="demo")
        with slow_loop_steps(LONGEST_STEP_SECONDS) as slow:
            other.execute("BEGIN IMMEDIATE")
            pending = [asyncio.ensure_future(store.add_message(a_message(text="during"))),
                       asyncio.ensure_future(store.save_session(record)),
                       asyncio.ensure_future(store.add_audit(
                           AuditEntry("u-1", "ada@example.org", "block", "session-1")))]
            await asyncio.sleep(LOCK_HELD_SECONDS)
            done_while_locked = [write.done() for write in pending]
            other.execute("COMMIT")
            results = await asyncio.wait_for(
                asyncio.gather(*pending, return_exceptions=True), 10)
        assert not slow, f"the event loop stalled: {slow}"
        assert not any(done_while_locked), results
        (stored, created), _, _ = results
        assert created and stored.seq == 2
        assert [m.text for m in await store.get_messages("conv-1")] == ["before", "during"]
        assert (await store.get_session("session-1")).interview == "demo"
        assert [e.action for e in await store.list_audit()] == ["block"]
    finally:
        other.close()
        await store.close()


async def test_sqlite_write_ahead_log_stays_small_under_steady_chat(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop's connection never checkpoints; every CHECKPOINT_MESSAGES messages a
    batch goes through the store's thread, which does, so the log starts over instead
    of growing with every message ever written."""
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_MESSAGES", 100)
    store = SQLiteStore(tmp_path / "livehelp.sqlite3")
    await store.open()
    try:
        for round_number in range(40):
            await asyncio.gather(*(store.add_message(
                a_message(conversation=f"c{number}", text=f"m{round_number} " * 20))
                for number in range(50)))
            await asyncio.sleep(0.005)  # people type: the store's thread gets its turns
        assert await store.count_messages() == 2000
        wal = tmp_path / "livehelp.sqlite3-wal"
        # Without checkpoints it holds all 2,000 messages: about 2.6 MB.
        assert wal.stat().st_size < 1_200_000
    finally:
        await store.close()
