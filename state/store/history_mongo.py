"""Searchable chat history on MongoDB (history.py holds SQLite's part and says what
both answer): a `conversations` collection of summaries, upserted with every batch of
messages the store writes, and a text index on `messages`."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC
from typing import Any

from pymongo import TEXT, UpdateOne
from pymongo.errors import OperationFailure

from state.store.base import (
    ChatMessage,
    ConversationSummary,
    HistoryPage,
    HistoryQuery,
    SearchHit,
    epoch_ms,
    from_epoch_ms,
    to_millis,
)
from state.store.history_words import (
    cursor_of,
    marked,
    page_size,
    parse_cursor,
    quoted,
    search_words,
    sender_name,
)
from state.store.plain_records import from_epoch_millis


def _mongo_conversation_filters(query: HistoryQuery) -> list[dict[str, Any]]:
    conditions: list[dict[str, Any]] = []
    if person := query.person.strip():
        pattern = {"$regex": re.escape(person), "$options": "i"}
        conditions.append({"$or": [{"person_name": pattern}, {"person_email": pattern}]})
    if interview := query.interview.strip():
        conditions.append({"interview": interview})
    if operator := query.operator.strip().lower():
        conditions.append({"operators": operator})
    return conditions


def _all_of(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"$and": conditions} if len(conditions) > 1 else (conditions[0] if conditions else {})


def _mongo_summary(document: dict[str, Any]) -> ConversationSummary:
    return ConversationSummary(
        conversation=document["_id"], session_id=document["session_id"],
        interview=document.get("interview"),
        first_time=from_epoch_ms(document["first_time"]),
        last_time=from_epoch_ms(document["last_time"]), messages=document["messages"],
        person_name=document.get("person_name"), person_email=document.get("person_email"),
        operators=list(document.get("operators") or []),
        first_user_time=from_epoch_millis(document.get("first_user_time")),
        first_reply_time=from_epoch_millis(document.get("first_reply_time")),
        first_reply_operator=document.get("first_reply_operator"))


def summary_updates(messages: list[ChatMessage],
                    interviews: dict[str, str]) -> list[UpdateOne]:
    """What `messages` (new ones, in the order stored) change in their conversations'
    summaries, as SQLite's catch_up folds them in; `interviews` gives the interview
    of each session whose conversation begins here. Times are epoch milliseconds."""
    by_conversation: dict[str, list[ChatMessage]] = {}
    for message in messages:
        by_conversation.setdefault(message.conversation, []).append(message)
    updates = []
    for conversation, group in by_conversation.items():
        times = [epoch_ms(message.time) for message in group]
        operators = list(dict.fromkeys(
            message.sender_email.lower() for message in group
            if message.sender_role == "operator" and message.sender_email))
        first = {"session_id": group[0].session_id,
                 "interview": interviews.get(group[0].session_id),
                 "person_name": None, "person_email": None}
        change: dict[str, Any] = {"$setOnInsert": first, "$inc": {"messages": len(group)},
                                  "$min": {"first_time": min(times)},
                                  "$max": {"last_time": max(times)}}
        # An array is made by $setOnInsert or $addToSet, never both in one update.
        if operators:
            change["$addToSet"] = {"operators": {"$each": operators}}
        else:
            first["operators"] = []
        updates.append(UpdateOne({"_id": conversation}, change, upsert=True))
        named = next((message for message in group
                      if message.sender_role == "user" and message.sender_email), None)
        if named is not None:
            name = sender_name(named.sender_first_name, named.sender_last_name) or None
            updates.append(UpdateOne({"_id": conversation, "person_email": None}, {"$set": {
                "person_name": name, "person_email": named.sender_email}}))
        # The first message of each side, set once (a missing field matches None).
        for role, fields in (("user", ("first_user_time",)),
                             ("operator", ("first_reply_time", "first_reply_operator"))):
            first_of_side = next((index for index, message in enumerate(group)
                                  if message.sender_role == role), None)
            if first_of_side is not None:
                values = [times[first_of_side], (group[first_of_side].sender_email or "").lower()]
                updates.append(UpdateOne({"_id": conversation, fields[0]: None},
                                         {"$set": dict(zip(fields, values, strict=False))}))
    return updates


async def create_text_index(messages: Any) -> None:
    """The text index that $text searches: words compared without stemming or stop
    words (language "none"), as SQLite's FTS5 compares them. Made on every start, like
    every index; nx-27017 then indexes the stored messages again and fails with
    "constraint failed" on those it has, the index being there already."""
    try:
        await messages.create_index([("text", TEXT)], default_language="none")
    except OperationFailure as exc:
        if "constraint failed" not in str(exc):
            raise


class MongoHistory:
    _db: Any
    _guard: Callable[[], AbstractContextManager[None]]

    async def _record_conversations(self, messages: list[ChatMessage]) -> None:
        """Upsert the summaries of the conversations of a batch of new messages: one
        round trip, and one more to read the interviews of conversations that begin."""
        beginning = sorted({message.session_id for message in messages if message.seq == 1})
        interviews = {}
        if beginning:
            async for document in self._db.sessions.find({"_id": {"$in": beginning}},
                                                         {"interview": 1}):
                interviews[document["_id"]] = document["interview"]
        if updates := summary_updates(messages, interviews):
            await self._db.conversations.bulk_write(updates, ordered=True)

    async def list_conversations(self, query: HistoryQuery) -> HistoryPage:
        conditions = _mongo_conversation_filters(query)
        if query.since is not None:
            conditions.append({"last_time": {"$gte": epoch_ms(query.since)}})
        if query.until is not None:
            conditions.append({"last_time": {"$lt": epoch_ms(query.until)}})
        if query.before is not None:
            moment, conversation = parse_cursor(query.before)
            millis = epoch_ms(moment)
            conditions.append({"$or": [{"last_time": {"$lt": millis}},
                                       {"last_time": millis, "_id": {"$lt": conversation}}]})
        size = page_size(query)
        with self._guard():
            documents = await self._db.conversations.find(_all_of(conditions)).sort(
                [("last_time", -1), ("_id", -1)]).limit(size + 1).to_list(None)
        summaries = [_mongo_summary(document) for document in documents[:size]]
        return HistoryPage(summaries,
                           cursor_of(summaries[-1]) if len(documents) > size else None)

    async def _newest(self, search: dict[str, Any], query: HistoryQuery) -> list[dict]:
        """The first `limit` messages matching `search`, newest first, in the query's
        time range. nx-27017 answers a $text query that also compares dates with
        nothing, so the range is applied here, to the sorted messages."""
        size = page_size(query)
        cursor = self._db.messages.find(search).sort(
            [("time", -1), ("conversation", -1), ("seq", -1)])
        if query.since is None and query.until is None:
            return await cursor.limit(size).to_list(None)
        since = None if query.since is None else to_millis(query.since)
        until = None if query.until is None else to_millis(query.until)
        documents = []
        async for document in cursor:
            if since is not None and document["time"] < since:
                break  # older than the range, and so is everything after it
            if until is None or document["time"] < until:
                documents.append(document)
                if len(documents) == size:
                    break
        await cursor.close()
        return documents

    async def search_messages(self, query: HistoryQuery) -> list[SearchHit]:
        words = search_words(query.text)
        if not words:
            return []
        search: dict[str, Any] = {"$text": {"$search": quoted(words)}}
        with self._guard():
            if conditions := _mongo_conversation_filters(query):
                names = [document["_id"] async for document in self._db.conversations.find(
                    _all_of(conditions), {"_id": 1})]
                if not names:
                    return []
                search["conversation"] = {"$in": names}
            documents = await self._newest(search, query)
        return [SearchHit(conversation=d["conversation"], session_id=d["session_id"],
                          seq=d["seq"], time=d["time"].astimezone(UTC),
                          sender_role=d["sender_role"],
                          sender_name=sender_name(d.get("sender_first_name"),
                                                  d.get("sender_last_name")),
                          text=marked(d["text"], words)) for d in documents]
