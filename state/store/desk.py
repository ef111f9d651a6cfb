"""Canned replies, notes and ratings, for both stores (plain_records.py gives the
forms); kept apart so each store file stays about one thing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from state.store.base import CannedReply, Note, Rating
from state.store.plain_records import (
    epoch_millis,
    from_document,
    from_row,
    insert_sql,
    to_document,
    to_row,
)
from state.store.sqlite_rows import to_text


class SQLiteDesk:
    _run: Callable[..., Any]

    async def list_canned_replies(self, owner_id: str | None) -> list[CannedReply]:
        rows = await self._run(lambda c: c.execute(
            "SELECT * FROM canned_replies WHERE owner_id IS NULL OR owner_id = ?"
            " ORDER BY title COLLATE NOCASE, id", (owner_id,)).fetchall())
        return [from_row(CannedReply, row) for row in rows]

    async def save_canned_reply(self, reply: CannedReply) -> None:
        await self._run(lambda c: c.execute(
            insert_sql("canned_replies", CannedReply).replace("INSERT", "INSERT OR REPLACE", 1),
            to_row(reply)))

    async def delete_canned_reply(self, reply_id: str, owner_id: str | None) -> bool:
        return await self._run(lambda c: c.execute(
            "DELETE FROM canned_replies WHERE id = ? AND owner_id IS ?",
            (reply_id, owner_id)).rowcount) > 0

    async def add_note(self, note: Note) -> None:
        await self._run(lambda c: c.execute(insert_sql("notes", Note), to_row(note)))

    async def list_notes(self, session_id: str) -> list[Note]:
        rows = await self._run(lambda c: c.execute(
            "SELECT * FROM notes WHERE session_id = ? ORDER BY created, id",
            (session_id,)).fetchall())
        return [from_row(Note, row) for row in rows]

    async def add_rating(self, rating: Rating) -> bool:
        def add(c: sqlite3.Connection) -> bool:
            try:
                c.execute(insert_sql("ratings", Rating), to_row(rating))
            except sqlite3.IntegrityError:
                return False
            return True
        return await self._run(add)

    async def list_ratings(self, since: datetime, until: datetime) -> list[Rating]:
        rows = await self._run(lambda c: c.execute(
            "SELECT * FROM ratings WHERE created >= ? AND created < ? ORDER BY created, id",
            (to_text(since), to_text(until))).fetchall())
        return [from_row(Rating, row) for row in rows]


class MongoDesk:
    _db: Any
    _guard: Callable[[], AbstractContextManager[None]]

    async def list_canned_replies(self, owner_id: str | None) -> list[CannedReply]:
        owners = [None] if owner_id is None else [None, owner_id]
        with self._guard():
            documents = await self._db.canned_replies.find(
                {"owner_id": {"$in": owners}}).to_list(None)
        replies = [from_document(CannedReply, d) for d in documents]
        return sorted(replies, key=lambda r: (r.title.lower(), r.id))

    async def save_canned_reply(self, reply: CannedReply) -> None:
        with self._guard():
            await self._db.canned_replies.replace_one({"_id": reply.id}, to_document(reply),
                                                      upsert=True)

    async def delete_canned_reply(self, reply_id: str, owner_id: str | None) -> bool:
        with self._guard():
            result = await self._db.canned_replies.delete_one(
                {"_id": reply_id, "owner_id": owner_id})
        return result.deleted_count > 0

    async def add_note(self, note: Note) -> None:
        with self._guard():
            await self._db.notes.insert_one(to_document(note))

    async def list_notes(self, session_id: str) -> list[Note]:
        with self._guard():
            documents = await self._db.notes.find({"session_id": session_id}).sort(
                [("created", 1), ("_id", 1)]).to_list(None)
        return [from_document(Note, d) for d in documents]

    async def add_rating(self, rating: Rating) -> bool:
        # The conversation is the _id of the rating's document: one per conversation.
        document = {**to_document(rating), "_id": rating.conversation, "rating_id": rating.id}
        with self._guard():
            try:
                await self._db.ratings.insert_one(document)
            except DuplicateKeyError:
                return False
        return True

    async def list_ratings(self, since: datetime, until: datetime) -> list[Rating]:
        with self._guard():
            documents = await self._db.ratings.find(
                {"created": {"$gte": epoch_millis(since), "$lt": epoch_millis(until)}}).sort(
                [("created", 1)]).to_list(None)
        return [from_document(Rating, {**d, "_id": d["rating_id"], "conversation": d["_id"]})
                for d in documents]
