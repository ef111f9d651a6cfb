"""The embedded default store: one SQLite file in WAL mode.

Every statement runs on a single worker thread that owns its connection, so the
event loop never waits for the disk and calls run in order, except chat messages:
their batches (group commit) are written by a second connection on the event loop
itself, a short append to the write-ahead log that never waits for a lock and never
checkpoints (see `SQLiteStore._write_messages`). Transactions keep the two apart.

Dicts and lists are kept as JSON text, times as UTC ISO strings with millisecond
precision (the precision MongoDB keeps, so both stores give back the same values).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from state.store.base import (
    AuditEntry,
    ChatMessage,
    DuplicateEmail,
    OperatorSettings,
    SessionRecord,
    SignIn,
    Store,
    StoreUnavailable,
    User,
    to_millis,
    utcnow,
)
from state.store.desk import SQLiteDesk
from state.store.group_commit import GroupCommit
from state.store.history import SQLiteHistory, catch_up
from state.store.left_messages import SQLiteHandovers, SQLiteLeftMessages
from state.store.reports import SQLiteReports
from state.store.sqlite_rows import (
    MESSAGE_COLUMNS,
    audit_from_row,
    checkpoint,
    from_text,
    insert_message,
    make_private,
    message_from_row,
    migrate,
    open_connection,
    select_in,
    session_from_row,
    sign_in_from_row,
    to_text,
    user_from_row,
)
from state.store.writer_lock import WriterLock

T = TypeVar("T")
log = logging.getLogger(__name__)

# Another process holding a write lock (a backup, a migration) gets this long
# before we give up and report the store unavailable.
BUSY_TIMEOUT_MS = 5000
# Chat messages written between two checkpoints of the write-ahead log.
CHECKPOINT_MESSAGES = 5000

class SQLiteStore(SQLiteLeftMessages, SQLiteHandovers, SQLiteDesk, SQLiteHistory, SQLiteReports,
                  Store):
    """Store in one SQLite file: chat batches on the event loop, the rest on one thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._connection: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._messages = GroupCommit(self._write_messages)
        # Highest seq per conversation. Only chat batches use it, one batch at a time
        # (on the event loop, or on the store's thread while the loop waits for it).
        self._last_seq: dict[str, int] = {}
        # Held while this store writes chat (writer_lock.py).
        self._writer = WriterLock(path)
        # The event loop's own connection, for chat batches only; see _write_messages.
        self._loop_connection: sqlite3.Connection | None = None
        self._unchecked_messages = 0
        self._copying: asyncio.Future | None = None
        self._log_copied = False

    # -- plumbing ---------------------------------------------------------------

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(connection)` on the store's thread; database failures become
        StoreUnavailable so callers need to know one exception only."""
        if self._executor is None:
            raise StoreUnavailable("the SQLite store is not open")
        executor = self._executor

        def call() -> T:
            if self._connection is None:
                raise StoreUnavailable("the SQLite store is not open")
            return work(self._connection)

        try:
            return await asyncio.get_running_loop().run_in_executor(executor, call)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            # OperationalError (locked, vanished, unwritable) or a file that is not a
            # database: either way nothing was written.
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc
        except RuntimeError as exc:  # executor shut down by a concurrent close()
            raise StoreUnavailable("the SQLite store is closed") from exc

    @staticmethod
    def _transaction(connection: sqlite3.Connection, work: Callable[[], T]) -> T:
        """Run `work` in one transaction; IMMEDIATE takes the write lock up front so a
        read-then-write cannot be overtaken by another process."""
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    def _connect(self) -> None:
        """Open the file and create the schema; runs on the store's thread."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            make_private(self.path)
        except OSError as exc:
            raise sqlite3.OperationalError(f"cannot create {self.path}: {exc}") from exc
        connection = open_connection(self.path, BUSY_TIMEOUT_MS, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            migrate(connection)
            catch_up(connection)  # a migrated file's whole history, else what a crash left
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    async def open(self) -> None:
        if self._executor is not None:
            return
        self._last_seq.clear()  # another process may have written while we were closed
        # One thread: the connection is used by nobody else, and calls run in order.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._connect)
            # Never waits for a lock (a busy file sends the batch to the thread), and
            # leaves checkpoints, which copy the log into the file and fsync, to the thread.
            self._loop_connection = open_connection(self.path, busy_timeout_ms=0)
            self._loop_connection.execute("PRAGMA wal_autocheckpoint = 0")
        except BaseException as exc:
            self._executor.shutdown(wait=False)
            self._executor = None
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc
            raise

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        self.history_closing()
        if self._loop_connection is not None:
            self._loop_connection.close()
            self._loop_connection = None
        self._writer.release()

        def disconnect() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        # Queued after every call already submitted, so pending work finishes first.
        await asyncio.get_running_loop().run_in_executor(executor, disconnect)
        executor.shutdown(wait=True)

    # -- accounts ---------------------------------------------------------------

    async def create_user(self, user: User) -> User:
        stored = dataclasses.replace(user, privileges=list(user.privileges),
                                     created=to_millis(user.created))

        def insert(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO users (id, email, email_lower, password_hash, first_name,"
                " last_name, privileges, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (stored.id, stored.email, stored.email.lower(), stored.password_hash,
                 stored.first_name, stored.last_name, json.dumps(stored.privileges),
                 to_text(stored.created)))

        try:
            await self._run(insert)
        except sqlite3.IntegrityError as exc:
            raise DuplicateEmail(user.email) from exc
        return stored

    async def get_user(self, user_id: str) -> User | None:
        row = await self._run(lambda c: c.execute(
            "SELECT * FROM users WHERE id = ?", (user_id,)).fetchone())
        return user_from_row(row) if row else None

    async def get_user_by_email(self, email: str) -> User | None:
        row = await self._run(lambda c: c.execute(
            "SELECT * FROM users WHERE email_lower = ?", (email.lower(),)).fetchone())
        return user_from_row(row) if row else None

    async def list_users(self) -> list[User]:
        rows = await self._run(lambda c: c.execute(
            "SELECT * FROM users ORDER BY email_lower, id").fetchall())
        return [user_from_row(row) for row in rows]

    async def update_user(self, user: User) -> None:
        await self._run(lambda c: c.execute(
            "UPDATE users SET first_name = ?, last_name = ?, privileges = ?, password_hash = ?"
            " WHERE id = ?",
            (user.first_name, user.last_name, json.dumps(list(user.privileges)),
             user.password_hash, user.id)))

    async def get_users(self, user_ids: list[str]) -> list[User]:
        rows = await self._run(lambda c: select_in(c, "users", "id", user_ids))
        return [user_from_row(row) for row in rows]

    async def delete_user(self, user_id: str) -> None:
        def delete(connection: sqlite3.Connection) -> None:
            for table, column in (("sign_ins", "user_id"), ("operator_settings", "user_id"),
                                  ("users", "id")):
                connection.execute(f"DELETE FROM {table} WHERE {column} = ?", (user_id,))

        await self._run(lambda c: self._transaction(c, lambda: delete(c)))

    # -- sign-ins ---------------------------------------------------------------

    async def create_sign_in(self, sign_in: SignIn) -> None:
        await self._run(lambda c: c.execute(
            "INSERT INTO sign_ins (id_hash, user_id, created, last_seen) VALUES (?, ?, ?, ?)",
            (sign_in.id_hash, sign_in.user_id, to_text(sign_in.created),
             to_text(sign_in.last_seen))))

    async def get_sign_ins(self, id_hashes: list[str]) -> list[SignIn]:
        rows = await self._run(lambda c: select_in(c, "sign_ins", "id_hash", id_hashes))
        return [sign_in_from_row(row) for row in rows]

    async def touch_sign_ins(self, id_hashes: list[str], moment: datetime) -> None:
        values = [(to_text(moment), id_hash) for id_hash in id_hashes]
        await self._run(lambda c: self._transaction(c, lambda: c.executemany(
            "UPDATE sign_ins SET last_seen = ? WHERE id_hash = ?", values)))

    async def delete_sign_ins(self, id_hashes: list[str]) -> None:
        values = [(id_hash,) for id_hash in id_hashes]
        await self._run(lambda c: self._transaction(c, lambda: c.executemany(
            "DELETE FROM sign_ins WHERE id_hash = ?", values)))

    async def delete_user_sign_ins(self, user_id: str) -> None:
        await self._run(lambda c: c.execute("DELETE FROM sign_ins WHERE user_id = ?", (user_id,)))

    async def delete_stale_sign_ins(self, seen_before: datetime, created_before: datetime) -> int:
        return await self._run(lambda c: c.execute(
            "DELETE FROM sign_ins WHERE last_seen < ? OR created < ?",
            (to_text(seen_before), to_text(created_before))).rowcount)

    # -- operator settings ------------------------------------------------------

    async def get_operator_settings(self, user_id: str) -> OperatorSettings:
        row = await self._run(lambda c: c.execute(
            "SELECT * FROM operator_settings WHERE user_id = ?", (user_id,)).fetchone())
        if row is None:
            return OperatorSettings(user_id=user_id)
        return OperatorSettings(user_id=user_id, available=bool(row["available"]),
                                roles=json.loads(row["roles"]), phone=row["phone"],
                                capacity=row["capacity"])

    async def save_operator_settings(self, settings: OperatorSettings) -> None:
        await self._run(lambda c: c.execute(
            "INSERT OR REPLACE INTO operator_settings (user_id, available, roles, phone, capacity)"
            " VALUES (?, ?, ?, ?, ?)",
            (settings.user_id, int(settings.available), json.dumps(list(settings.roles)),
             settings.phone, settings.capacity)))

    # -- interview sessions -----------------------------------------------------

    async def save_session(self, record: SessionRecord) -> None:
        created, updated = to_millis(record.created), to_millis(utcnow())
        values = (record.id, record.interview, record.owner_id, json.dumps(record.answers),
                  json.dumps(record.progress), json.dumps(record.live_help),
                  int(record.blocked), to_text(created), to_text(updated))
        await self._run(lambda c: c.execute(
            "INSERT OR REPLACE INTO sessions (id, interview, owner_id, answers, progress,"
            " live_help, blocked, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values))
        # Only after the write succeeded, so a failed save leaves the record as it was;
        # afterwards the caller's record equals what get_session() returns.
        record.created, record.updated = created, updated

    async def get_session(self, session_id: str) -> SessionRecord | None:
        row = await self._run(lambda c: c.execute(
            "SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone())
        return session_from_row(row) if row else None

    # -- chat -------------------------------------------------------------------

    async def add_message(self, message: ChatMessage) -> tuple[ChatMessage, bool]:
        """Written by group commit: one transaction per batch."""
        return await self._messages.submit(message)

    async def _write_messages(self, batch: list[ChatMessage]) -> list[tuple[ChatMessage, bool]]:
        """One transaction for the batch, run on the event loop itself: a few inserts
        and a commit into the write-ahead log take well under a millisecond, less than
        handing them to the store's thread and back (bench/chat.py: about 25% more
        messages per second). The thread writes the batch instead when another
        connection holds the write lock: it may wait, the loop must not.

        Checkpoints (copying the log into the database file, with fsync) are the
        thread's, in two steps so that chat never waits for the long one: every
        CHECKPOINT_MESSAGES messages the thread copies the log while the loop goes
        on writing; then one batch goes through the thread, which copies what was
        written meanwhile, and with the log fully copied the next write starts it over."""
        times = [to_text(message.time) for message in batch]

        def write(connection: sqlite3.Connection) -> list:
            try:
                return self._transaction(connection, lambda: [
                    insert_message(connection, message, time_text, self._last_seq)
                    for message, time_text in zip(batch, times, strict=True)])
            except BaseException:
                self._last_seq.clear()  # rolled back: the cache may run ahead
                raise

        def write_and_checkpoint(connection: sqlite3.Connection) -> list:
            rows = write(connection)
            checkpoint(connection)
            return rows

        if self._loop_connection is None:
            raise StoreUnavailable("the SQLite store is not open")
        self._writer.claim()
        if self._log_copied:
            self._log_copied = False
            rows = await self._run(write_and_checkpoint)
        else:
            try:
                rows = write(self._loop_connection)
            except sqlite3.DatabaseError as exc:
                if (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF != sqlite3.SQLITE_BUSY:
                    raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc
                rows = await self._run(write)
            self._unchecked_messages += len(batch)
            if self._unchecked_messages >= CHECKPOINT_MESSAGES and self._copying is None:
                self._unchecked_messages = 0
                self._copying = asyncio.ensure_future(self._copy_log())
        self.history_written()
        results = []
        for message, time_text, (existing, seq) in zip(batch, times, rows, strict=True):
            if existing is not None:
                results.append((message_from_row(existing), False))
            else:
                results.append((dataclasses.replace(
                    message, seq=seq, time=from_text(time_text)), True))
        return results

    async def claim_writer(self) -> None:
        self._writer.claim()

    async def _copy_log(self) -> None:
        try:
            await self._run(checkpoint)
            self._log_copied = True
        except StoreUnavailable as exc:
            log.warning("checkpoint of %s failed: %s", self.path, exc)
        finally:
            self._copying = None

    async def get_messages(self, conversation: str, after_seq: int = 0,
                           limit: int | None = None) -> list[ChatMessage]:
        rows = await self._run(lambda c: c.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation = ? AND seq > ?"
            " ORDER BY seq LIMIT ?",  # LIMIT -1: all of them
            (conversation, after_seq, -1 if limit is None else limit)).fetchall())
        return [message_from_row(row) for row in rows]

    async def conversation_tail(self, conversation: str) -> tuple[ChatMessage | None, int]:
        def tail(c: sqlite3.Connection) -> tuple[ChatMessage | None, int]:
            last = c.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation = ?"
                             " ORDER BY seq DESC LIMIT 1", (conversation,)).fetchone()
            answered = c.execute("SELECT MAX(seq) FROM messages WHERE conversation = ?"
                                 " AND sender_role = 'operator'", (conversation,)).fetchone()[0]
            return (message_from_row(last) if last else None), answered or 0
        return await self._run(tail)

    async def conversation_characters(self, conversation: str) -> int:
        # LENGTH counts characters of TEXT, as len() does; messages_once finds the rows.
        return await self._run(lambda c: c.execute(
            "SELECT COALESCE(SUM(LENGTH(text)), 0) FROM messages WHERE conversation = ?",
            (conversation,)).fetchone()[0])

    async def count_messages(self) -> int:
        return await self._run(lambda c: c.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    # -- audit ------------------------------------------------------------------

    async def add_audit(self, entry: AuditEntry) -> None:
        await self._run(lambda c: c.execute(
            "INSERT INTO audit (actor_id, actor_email, action, session_id, detail, time)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (entry.actor_id, entry.actor_email, entry.action, entry.session_id, entry.detail,
             to_text(entry.time))))

    async def list_audit(self, limit: int = 200) -> list[AuditEntry]:
        # id breaks ties between entries written within the same millisecond.
        rows = await self._run(lambda c: c.execute(
            "SELECT * FROM audit ORDER BY time DESC, id DESC LIMIT ?", (limit,)).fetchall())
        return [audit_from_row(row) for row in rows]

