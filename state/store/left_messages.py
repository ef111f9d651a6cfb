"""Messages left and handovers, for both stores: kept apart so each store file stays about one thing.
The SQLite part runs its SQL on the store's thread (`_run`); the MongoDB part uses the
`left_messages` collection, ids as `_id`, times as integer milliseconds."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from state.store.base import Handover, LeftMessage, epoch_ms, from_epoch_ms, utcnow
from state.store.sqlite_rows import from_text, left_from_row, to_text

_COLUMNS = [field.name for field in dataclasses.fields(LeftMessage)]


class SQLiteLeftMessages:
    _run: Callable[..., Any]

    async def add_left_message(self, message: LeftMessage) -> None:
        values = dataclasses.asdict(message)
        values["created"] = to_text(message.created)
        values["handled_at"] = to_text(message.handled_at) if message.handled_at else None
        await self._run(lambda c: c.execute(
            f"INSERT INTO left_messages ({', '.join(_COLUMNS)}) VALUES"
            f" ({', '.join('?' for _ in _COLUMNS)})", [values[name] for name in _COLUMNS]))

    async def list_left_messages(self, limit: int = 200) -> list[LeftMessage]:
        rows = await self._run(lambda c: c.execute(
            "SELECT * FROM left_messages WHERE handled_by IS NULL ORDER BY created, id"
            " LIMIT ?", (limit,)).fetchall())
        return [left_from_row(row) for row in rows]

    async def get_left_message(self, message_id: str) -> LeftMessage | None:
        row = await self._run(lambda c: c.execute(
            "SELECT * FROM left_messages WHERE id = ?", (message_id,)).fetchone())
        return left_from_row(row) if row else None

    async def mark_left_message_handled(self, message_id: str, by: str) -> LeftMessage | None:
        def mark(c: sqlite3.Connection) -> sqlite3.Row | None:
            c.execute("UPDATE left_messages SET handled_by = ?, handled_at = ? WHERE id = ?"
                      " AND handled_by IS NULL", (by, to_text(utcnow()), message_id))
            return c.execute("SELECT * FROM left_messages WHERE id = ?",
                             (message_id,)).fetchone()
        row = await self._run(mark)
        return left_from_row(row) if row else None


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else epoch_ms(moment)


def _moment(millis: int | None) -> datetime | None:
    return None if millis is None else from_epoch_ms(millis)


def _from_document(document: dict[str, Any]) -> LeftMessage:
    values = {name: document.get(name) for name in _COLUMNS if name != "id"}
    values["created"], values["handled_at"] = (_moment(values["created"]),
                                               _moment(values["handled_at"]))
    return LeftMessage(id=document["_id"], **values)


class SQLiteHandovers:
    _run: Callable[..., Any]

    async def save_handover(self, handover: Handover) -> None:
        await self._run(lambda c: c.execute(
            "INSERT OR REPLACE INTO handovers (conversation, operator_id, closed_by,"
            " transfer_from, transfer_note, time) VALUES (?, ?, ?, ?, ?, ?)",
            (handover.conversation, handover.operator_id, handover.closed_by,
             handover.transfer_from, handover.transfer_note, to_text(handover.time))))

    async def get_handover(self, conversation: str) -> Handover | None:
        row = await self._run(lambda c: c.execute(
            "SELECT * FROM handovers WHERE conversation = ?", (conversation,)).fetchone())
        if row is None:
            return None
        return Handover(**{**dict(row), "time": from_text(row["time"])})


class MongoHandovers:
    _db: Any
    _guard: Callable[[], AbstractContextManager[None]]

    async def save_handover(self, handover: Handover) -> None:
        document = {"_id": handover.conversation, "operator_id": handover.operator_id,
                    "closed_by": handover.closed_by, "transfer_from": handover.transfer_from,
                    "transfer_note": handover.transfer_note,
                    "time": _millis(handover.time)}
        with self._guard():
            await self._db.handovers.replace_one({"_id": handover.conversation}, document,
                                                 upsert=True)

    async def get_handover(self, conversation: str) -> Handover | None:
        with self._guard():
            document = await self._db.handovers.find_one({"_id": conversation})
        if document is None:
            return None
        return Handover(conversation, document["operator_id"], document["closed_by"],
                        document["transfer_from"], document["transfer_note"],
                        _moment(document["time"]))


class MongoLeftMessages:
    _db: Any
    # The store's "a connection failure is StoreUnavailable".
    _guard: Callable[[], AbstractContextManager[None]]

    async def add_left_message(self, message: LeftMessage) -> None:
        document = {name: getattr(message, name) for name in _COLUMNS if name != "id"}
        document.update(_id=message.id, created=_millis(message.created),
                        handled_at=_millis(message.handled_at))
        with self._guard():
            await self._db.left_messages.insert_one(document)

    async def list_left_messages(self, limit: int = 200) -> list[LeftMessage]:
        with self._guard():
            documents = await self._db.left_messages.find({"handled_by": None}).sort(
                [("created", 1), ("_id", 1)]).limit(limit).to_list(None)
        return [_from_document(document) for document in documents]

    async def get_left_message(self, message_id: str) -> LeftMessage | None:
        with self._guard():
            document = await self._db.left_messages.find_one({"_id": message_id})
        return _from_document(document) if document else None

    async def mark_left_message_handled(self, message_id: str, by: str) -> LeftMessage | None:
        with self._guard():
            await self._db.left_messages.update_one(
                {"_id": message_id, "handled_by": None},
                {"$set": {"handled_by": by, "handled_at": _millis(utcnow())}})
            document = await self._db.left_messages.find_one({"_id": message_id})
        return _from_document(document) if document else None
