"""The MongoDB store, through PyMongo's asyncio client.

One server process writes chat: sequence numbers come from a cache of each
conversation's highest seq, read from the database on first use, so a message
costs one insert and no counter round trip. A unique (conversation, seq) index
refuses a batch if another writer slipped in, and the cache is then read again;
several processes sharing chat need a different scheme (an atomic counter per
conversation). Unique indexes also guard emails (case-insensitively, through
`email_lower`) and the (conversation, sender_key, client_id) identity that makes
`add_message` idempotent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError

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
    epoch_ms,
    from_epoch_ms,
    to_millis,
    utcnow,
)
from state.store.desk import MongoDesk
from state.store.group_commit import GroupCommit
from state.store.history_mongo import MongoHistory, create_text_index
from state.store.left_messages import MongoHandovers, MongoLeftMessages
from state.store.reports import MongoReports

# Long enough to ride out a replica-set election, short enough that a request
# made while the database is down gets its 503 page promptly.
SERVER_SELECTION_TIMEOUT_MS = 3000

_MESSAGE_FIELDS = [field.name for field in dataclasses.fields(ChatMessage)]


@contextlib.contextmanager
def _unavailable_on_connection_failure() -> Iterator[None]:
    """Turn every "cannot reach the server" error (ConnectionFailure covers
    AutoReconnect, NetworkTimeout and ServerSelectionTimeoutError) into StoreUnavailable."""
    try:
        yield
    except ConnectionFailure as exc:
        raise StoreUnavailable(f"MongoDB unreachable: {exc}") from exc


def _utc(moment: datetime) -> datetime:
    # The driver hands back its own FixedOffset zone; callers expect datetime.UTC.
    return moment.astimezone(UTC)


def _user(document: dict[str, Any]) -> User:
    return User(id=document["_id"], email=document["email"],
                password_hash=document["password_hash"], first_name=document["first_name"],
                last_name=document["last_name"], privileges=list(document["privileges"]),
                created=_utc(document["created"]))


def _session(document: dict[str, Any]) -> SessionRecord:
    return SessionRecord(id=document["_id"], interview=document["interview"],
                         owner_id=document.get("owner_id"), answers=document["answers"],
                         progress=document["progress"], live_help=document["live_help"],
                         blocked=bool(document["blocked"]), created=_utc(document["created"]),
                         updated=_utc(document["updated"]))


log = logging.getLogger(__name__)

# Writes of one batch when other writers keep taking its seqs; then the pages resend.
SEQ_ATTEMPTS = 3


class _SeqTaken(Exception):
    def __init__(self, inserted: set[str], detail: str) -> None:
        super().__init__(detail)
        self.inserted = inserted


def _message_id(message: ChatMessage) -> str:
    """A message's _id is its identity, (conversation, sender, client_id), so that a
    resend is found by the primary key: the one lookup every MongoDB-speaking server
    answers from an index (nx-27017 scans the collection for any other query)."""
    return json.dumps([message.conversation, message.sender_key, message.client_id])


def _message(document: dict[str, Any]) -> ChatMessage:
    values = {name: document.get(name) for name in _MESSAGE_FIELDS}
    values["time"] = _utc(values["time"])
    return ChatMessage(**values)


def _audit(document: dict[str, Any]) -> AuditEntry:
    return AuditEntry(actor_id=document["actor_id"], actor_email=document["actor_email"],
                      action=document["action"], session_id=document["session_id"],
                      detail=document["detail"], time=_utc(document["time"]))


class MongoStore(MongoLeftMessages, MongoHandovers, MongoDesk, MongoHistory, MongoReports,
                 Store):
    """Store in one MongoDB database."""

    _guard = staticmethod(_unavailable_on_connection_failure)

    def __init__(self, uri: str, database: str) -> None:
        self.uri = uri
        self.database_name = database
        self._client: AsyncMongoClient | None = None
        self._database: AsyncDatabase | None = None
        self._messages = GroupCommit(self._write_messages)
        self._last_seq: dict[str, int] = {}

    @property
    def _db(self) -> AsyncDatabase:
        if self._database is None:
            raise StoreUnavailable("the MongoDB store is not open")
        return self._database

    async def open(self) -> None:
        if self._client is not None:
            return
        self._last_seq.clear()  # another process may have written while we were closed
        client: AsyncMongoClient = AsyncMongoClient(
            self.uri, serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS, tz_aware=True)
        database = client[self.database_name]
        try:
            with _unavailable_on_connection_failure():
                # Creating an index that exists is a no-op, so this runs on every start.
                await database.users.create_index("email_lower", unique=True)
                # A message's identity is its _id (see _message_id): unique already.
                await database.messages.create_index(
                    [("conversation", ASCENDING), ("seq", ASCENDING)], unique=True)
                await database.sessions.create_index("updated")
                await database.audit.create_index("time")
                # A sign-in's _id is the hash of its id; this serves "end them all".
                await database.sign_ins.create_index("user_id")
                await database.notes.create_index([("session_id", ASCENDING),
                                                   ("created", ASCENDING)])
                await database.ratings.create_index("created")
                await database.left_messages.create_index(
                    [("handled_by", ASCENDING), ("created", ASCENDING)])
                await database.conversations.create_index("last_time")  # history, newest first
                await create_text_index(database.messages)
        except BaseException:
            await client.close()
            raise
        self._client, self._database = client, database

    async def close(self) -> None:
        client, self._client, self._database = self._client, None, None
        if client is not None:
            await client.close()

    # -- accounts ---------------------------------------------------------------

    async def create_user(self, user: User) -> User:
        stored = dataclasses.replace(user, privileges=list(user.privileges),
                                     created=to_millis(user.created))
        document = {"_id": stored.id, "email": stored.email, "email_lower": stored.email.lower(),
                    "password_hash": stored.password_hash, "first_name": stored.first_name,
                    "last_name": stored.last_name, "privileges": stored.privileges,
                    "created": stored.created}
        with _unavailable_on_connection_failure():
            try:
                await self._db.users.insert_one(document)
            except DuplicateKeyError as exc:
                raise DuplicateEmail(user.email) from exc
        return stored

    async def get_user(self, user_id: str) -> User | None:
        with _unavailable_on_connection_failure():
            document = await self._db.users.find_one({"_id": user_id})
        return _user(document) if document else None

    async def get_user_by_email(self, email: str) -> User | None:
        with _unavailable_on_connection_failure():
            document = await self._db.users.find_one({"email_lower": email.lower()})
        return _user(document) if document else None

    async def list_users(self) -> list[User]:
        with _unavailable_on_connection_failure():
            documents = await self._db.users.find().sort(
                [("email_lower", ASCENDING), ("_id", ASCENDING)]).to_list(None)
        return [_user(document) for document in documents]

    async def update_user(self, user: User) -> None:
        with _unavailable_on_connection_failure():
            await self._db.users.update_one({"_id": user.id}, {"$set": {
                "first_name": user.first_name, "last_name": user.last_name,
                "privileges": list(user.privileges), "password_hash": user.password_hash}})

    async def get_users(self, user_ids: list[str]) -> list[User]:
        with _unavailable_on_connection_failure():
            documents = await self._db.users.find(
                {"_id": {"$in": sorted(set(user_ids))}}).to_list(None)
        return [_user(document) for document in documents]

    async def delete_user(self, user_id: str) -> None:
        # Sign-ins first: should this stop half-way, the account is signed out, not
        # a removed account with live cookies.
        with _unavailable_on_connection_failure():
            await self._db.sign_ins.delete_many({"user_id": user_id})
            await self._db.operator_settings.delete_one({"_id": user_id})
            await self._db.users.delete_one({"_id": user_id})

    # -- sign-ins ---------------------------------------------------------------
    # A sign-in's times are integer milliseconds since the epoch, not BSON dates:
    # nx-27017 stores a date given to $set (touch_sign_ins) as text, and one update
    # for many sign-ins needs $set.

    async def create_sign_in(self, sign_in: SignIn) -> None:
        with _unavailable_on_connection_failure():
            await self._db.sign_ins.insert_one({
                "_id": sign_in.id_hash, "user_id": sign_in.user_id,
                "created": epoch_ms(sign_in.created), "last_seen": epoch_ms(sign_in.last_seen)})

    async def get_sign_ins(self, id_hashes: list[str]) -> list[SignIn]:
        with _unavailable_on_connection_failure():
            documents = await self._db.sign_ins.find(
                {"_id": {"$in": sorted(set(id_hashes))}}).to_list(None)
        return [SignIn(id_hash=d["_id"], user_id=d["user_id"], created=from_epoch_ms(d["created"]),
                       last_seen=from_epoch_ms(d["last_seen"])) for d in documents]

    async def touch_sign_ins(self, id_hashes: list[str], moment: datetime) -> None:
        with _unavailable_on_connection_failure():
            await self._db.sign_ins.update_many({"_id": {"$in": sorted(set(id_hashes))}},
                                                {"$set": {"last_seen": epoch_ms(moment)}})

    async def delete_sign_ins(self, id_hashes: list[str]) -> None:
        with _unavailable_on_connection_failure():
            await self._db.sign_ins.delete_many({"_id": {"$in": sorted(set(id_hashes))}})

    async def delete_user_sign_ins(self, user_id: str) -> None:
        with _unavailable_on_connection_failure():
            await self._db.sign_ins.delete_many({"user_id": user_id})

    async def delete_stale_sign_ins(self, seen_before: datetime, created_before: datetime) -> int:
        with _unavailable_on_connection_failure():
            result = await self._db.sign_ins.delete_many({"$or": [
                {"last_seen": {"$lt": epoch_ms(seen_before)}},
                {"created": {"$lt": epoch_ms(created_before)}}]})
        return result.deleted_count

    # -- operator settings ------------------------------------------------------

    async def get_operator_settings(self, user_id: str) -> OperatorSettings:
        with _unavailable_on_connection_failure():
            document = await self._db.operator_settings.find_one({"_id": user_id})
        if document is None:
            return OperatorSettings(user_id=user_id)
        return OperatorSettings(user_id=user_id, available=bool(document["available"]),
                                roles=list(document["roles"]), phone=document["phone"],
                                capacity=document.get("capacity"))

    async def save_operator_settings(self, settings: OperatorSettings) -> None:
        # A whole-document replace: arrays are written as values, never created by
        # $addToSet (which nx-27017 does not do on a missing field).
        document = {"_id": settings.user_id, "available": bool(settings.available),
                    "roles": list(settings.roles), "phone": settings.phone,
                    "capacity": settings.capacity}
        with _unavailable_on_connection_failure():
            await self._db.operator_settings.replace_one(
                {"_id": settings.user_id}, document, upsert=True)

    # -- interview sessions -----------------------------------------------------

    async def save_session(self, record: SessionRecord) -> None:
        created, updated = to_millis(record.created), to_millis(utcnow())
        document = {"_id": record.id, "interview": record.interview, "owner_id": record.owner_id,
                    "answers": record.answers, "progress": record.progress,
                    "live_help": record.live_help, "blocked": bool(record.blocked),
                    "created": created, "updated": updated}
        with _unavailable_on_connection_failure():
            await self._db.sessions.replace_one({"_id": record.id}, document, upsert=True)
        # Only after the write succeeded, so a failed save leaves the record as it was;
        # afterwards the caller's record equals what get_session() returns.
        record.created, record.updated = created, updated

    async def get_session(self, session_id: str) -> SessionRecord | None:
        with _unavailable_on_connection_failure():
            document = await self._db.sessions.find_one({"_id": session_id})
        return _session(document) if document else None

    # -- chat -------------------------------------------------------------------

    async def add_message(self, message: ChatMessage) -> tuple[ChatMessage, bool]:
        """Written by group commit: a batch costs one lookup for resent messages and one
        insert_many, however many messages and conversations it holds."""
        return await self._messages.submit(message)

    async def _next_seq(self, conversation: str) -> int:
        """The conversation's next seq. `_last_seq` caches each conversation's highest:
        one process writes chat, so after the first lookup it is exact; should another
        writer slip in, the unique (conversation, seq) index refuses the batch."""
        seq = self._last_seq.get(conversation)
        if seq is None:
            latest = await self._db.messages.find_one(
                {"conversation": conversation}, {"seq": 1}, sort=[("seq", DESCENDING)])
            seq = int(latest["seq"]) if latest else 0
        self._last_seq[conversation] = seq + 1
        return seq + 1

    async def _write_messages(self, batch: list[ChatMessage]) -> list[tuple[ChatMessage, bool]]:
        """Several writers (cluster mode: a session whose home moved) may take a seq this
        process's cache thought free: the unique (conversation, seq) index refuses the
        insert, and the batch is written again with seqs read afresh, SEQ_ATTEMPTS times
        at most; what an attempt stored before the refusal is found by its _id then."""
        keys = [_message_id(message) for message in batch]
        inserted: set[str] = set()  # stored by an earlier attempt of this call
        for attempt in itertools.count(1):
            try:
                return await self._write_attempt(batch, keys, inserted)
            except _SeqTaken as taken:
                inserted |= taken.inserted
                log.info("chat seq taken by another writer (attempt %d): %s", attempt, taken)
                if attempt == SEQ_ATTEMPTS:
                    # Nothing more is acknowledged; the pages resend and find what was stored.
                    raise StoreUnavailable(f"conflicting chat writes, retry: {taken}") from None

    async def _write_attempt(self, batch: list[ChatMessage], keys: list[str],
                             inserted: set[str]) -> list[tuple[ChatMessage, bool]]:
        stored: dict[str, ChatMessage] = {}
        new: set[str] = set(inserted)
        with _unavailable_on_connection_failure():
            try:
                # Resent messages (a page retrying after a lost acknowledgement) are
                # found here, by _id, without spending sequence numbers.
                async for document in self._db.messages.find({"_id": {"$in": sorted(set(keys))}}):
                    stored[document["_id"]] = _message(document)
                documents = []
                for key, message in zip(keys, batch, strict=True):
                    if key in stored:  # also dedupes within the batch
                        continue
                    numbered = dataclasses.replace(
                        message, seq=await self._next_seq(message.conversation),
                        time=to_millis(message.time))
                    stored[key] = numbered
                    new.add(key)
                    documents.append({"_id": key} | {
                        name: getattr(numbered, name) for name in _MESSAGE_FIELDS})
                if documents:
                    await self._db.messages.insert_many(documents)
            except BaseException as exc:
                self._last_seq.clear()  # some seqs may be spent or unknown: ask again
                if isinstance(exc, BulkWriteError):
                    # Another writer took one of these seqs (or stored one of these
                    # messages) first; the documents before it are stored (ordered insert).
                    done = exc.details.get("nInserted", 0)
                    raise _SeqTaken({document["_id"] for document in documents[:done]},
                                    str(exc)) from exc
                raise
            # After the messages: a summary never counts a message that was not stored.
            await self._record_conversations([stored[key] for key in dict.fromkeys(keys)
                                              if key in new])
        results, answered = [], set()
        for key in keys:
            results.append((stored[key], key in new and key not in answered))
            answered.add(key)
        return results

    async def get_messages(self, conversation: str, after_seq: int = 0,
                           limit: int | None = None) -> list[ChatMessage]:
        with _unavailable_on_connection_failure():
            documents = await self._db.messages.find(
                {"conversation": conversation, "seq": {"$gt": after_seq}}).sort(
                "seq", ASCENDING).limit(limit or 0).to_list(None)  # limit(0): no limit
        return [_message(document) for document in documents]

    async def conversation_tail(self, conversation: str) -> tuple[ChatMessage | None, int]:
        newest = [("seq", DESCENDING)]
        with _unavailable_on_connection_failure():
            last = await self._db.messages.find_one({"conversation": conversation}, sort=newest)
            answered = await self._db.messages.find_one(
                {"conversation": conversation, "sender_role": "operator"}, sort=newest)
        return (_message(last) if last else None), (answered["seq"] if answered else 0)

    async def conversation_characters(self, conversation: str) -> int:
        pipeline = [{"$match": {"conversation": conversation}},
                    {"$group": {"_id": None, "characters": {"$sum": {"$strLenCP": "$text"}}}}]
        with _unavailable_on_connection_failure():
            cursor = await self._db.messages.aggregate(pipeline)
            results = await cursor.to_list(None)
        return results[0]["characters"] if results else 0

    async def count_messages(self) -> int:
        with _unavailable_on_connection_failure():
            return await self._db.messages.count_documents({})

    # -- audit ------------------------------------------------------------------

    async def add_audit(self, entry: AuditEntry) -> None:
        document = {"actor_id": entry.actor_id, "actor_email": entry.actor_email,
                    "action": entry.action, "session_id": entry.session_id,
                    "detail": entry.detail, "time": to_millis(entry.time)}
        with _unavailable_on_connection_failure():
            await self._db.audit.insert_one(document)

    async def list_audit(self, limit: int = 200) -> list[AuditEntry]:
        # ObjectIds made by one client increase, so _id orders entries written in
        # the same millisecond.
        with _unavailable_on_connection_failure():
            documents = await self._db.audit.find().sort(
                [("time", DESCENDING), ("_id", DESCENDING)]).limit(limit).to_list(None)
        return [_audit(document) for document in documents]
