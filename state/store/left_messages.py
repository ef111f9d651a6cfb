"""Messages left and handovers, for both stores: kept apart so each store file stays about
one thing. The SQLite part runs its SQL on the store's thread (`_run`); the MongoDB part
uses the `left_messages` and `handovers` collections (plain_records.py gives both forms)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from state.store.base import Handover, LeftMessage, utcnow
from state.store.plain_records import (
    epoch_millis,
    from_document,
    from_row,
    insert_sql,
    to_document,
    to_row,
)
from state.store.sqlite_rows import to_text


class SQLiteLeftMessages:
    _run: Callable[..., Any]

    async def add_left_message(self, message: LeftMessage) -> None:
        await self._run(lambda c: c.execute(insert_sql("left_messages", LeftMessage),
                                            to_row(message)))

    async def list_left_messages(self, limit: int = 200) -> list[LeftMessage]:
        rows = await self._run(lambda c: c.execute(
            "SELECT * FROM left_messages WHERE handled_by IS NULL ORDER BY created, id"
            " LIMIT ?", (limit,)).fetchall())
        return [from_row(LeftMessage, row) for row in rows]

    async def get_left_message(self, message_id: str) -> LeftMessage | None:
        row = await self._run(lambda c: c.execute(
            "SELECT * FROM left_messages WHERE id = ?", (message_id,)).fetchone())
        return from_row(LeftMessage, row) if row else None

    async def mark_left_message_handled(self, message_id: str, by: str) -> LeftMessage | None:
        def mark(c: sqlite3.Connection) -> sqlite3.Row | None:
            c.execute("UPDATE left_messages SET handled_by = ?, handled_at = ? WHERE id = ?"
                      " AND handled_by IS NULL", (by, to_text(utcnow()), message_id))
            return c.execute("SELECT * FROM left_messages WHERE id = ?",
                             (message_id,)).fetchone()
        row = await self._run(mark)
        return from_row(LeftMessage, row) if row else None


class SQLiteHandovers:
    _run: Callable[..., Any]

    async def save_handover(self, handover: Handover) -> None:
        await self._run(lambda c: c.execute(
            insert_sql("handovers", Handover).replace("INSERT", "INSERT OR REPLACE", 1),
            to_row(handover)))

    async def get_handover(self, conversation: str) -> Handover | None:
        row = await self._run(lambda c: c.execute(
            "SELECT * FROM handovers WHERE conversation = ?", (conversation,)).fetchone())
        return from_row(Handover, row) if row else None


class MongoLeftMessages:
    _db: Any
    # The store's "a connection failure is StoreUnavailable".
    _guard: Callable[[], AbstractContextManager[None]]

    async def add_left_message(self, message: LeftMessage) -> None:
        with self._guard():
            await self._db.left_messages.insert_one(to_document(message))

    async def list_left_messages(self, limit: int = 200) -> list[LeftMessage]:
        with self._guard():
            documents = await self._db.left_messages.find({"handled_by": None}).sort(
                [("created", 1), ("_id", 1)]).limit(limit).to_list(None)
        return [from_document(LeftMessage, document) for document in documents]

    async def get_left_message(self, message_id: str) -> LeftMessage | None:
        with self._guard():
            document = await self._db.left_messages.find_one({"_id": message_id})
        return from_document(LeftMessage, document) if document else None

    async def mark_left_message_handled(self, message_id: str, by: str) -> LeftMessage | None:
        with self._guard():
            await self._db.left_messages.update_one(
                {"_id": message_id, "handled_by": None},
                {"$set": {"handled_by": by, "handled_at": epoch_millis(utcnow())}})
            document = await self._db.left_messages.find_one({"_id": message_id})
        return from_document(LeftMessage, document) if document else None


class MongoHandovers:
    _db: Any
    _guard: Callable[[], AbstractContextManager[None]]

    async def save_handover(self, handover: Handover) -> None:
        with self._guard():
            await self._db.handovers.replace_one(
                {"_id": handover.conversation}, to_document(handover, key="conversation"),
                upsert=True)

    async def get_handover(self, conversation: str) -> Handover | None:
        with self._guard():
            document = await self._db.handovers.find_one({"_id": conversation})
        return from_document(Handover, document, key="conversation") if document else None
