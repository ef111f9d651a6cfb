"""Chat seqs with several writers (cluster mode: a session's home moved while another
process still wrote to its conversation). Each MongoStore caches a conversation's last
seq; a stale cache takes a seq another writer used, the unique (conversation, seq)
index refuses the insert, and the store writes the batch again with seqs read afresh
(state/store/mongo.py `_write_messages`): nothing refused, seqs gap-free and unique."""

from __future__ import annotations

import asyncio
import secrets

from state.store import mongo
from state.store.mongo import MongoStore
from tests.store_helpers import a_message


async def two_writers(mongo_uri: str) -> tuple[MongoStore, MongoStore]:
    database = f"writers_{secrets.token_hex(4)}"
    first, second = MongoStore(mongo_uri, database), MongoStore(mongo_uri, database)
    for store in (first, second):
        await store.open()
    return first, second


async def test_writers_taking_turns_keep_seqs_gap_free_and_unique(mongo_uri: str) -> None:
    first, second = await two_writers(mongo_uri)
    try:
        written = []
        for turn in range(6):  # each turn the other writer's cache is one behind
            store = (first, second)[turn % 2]
            stored, new = await store.add_message(a_message("conv", text=f"m{turn}"))
            assert new
            written.append(stored.seq)
        assert written == [1, 2, 3, 4, 5, 6]
        page = await first.get_messages("conv")
        assert [(m.seq, m.text) for m in page] == [(n + 1, f"m{n}") for n in range(6)]
    finally:
        for store in (first, second):
            await store.close()


async def test_a_batch_refused_midway_is_written_again_with_what_it_stored_kept(
        mongo_uri: str) -> None:
    """A batch whose first message (another conversation) is stored before one of its
    seqs is refused: the second attempt finds that message stored and still reports it
    new (it is delivered once), and writes the rest with fresh seqs."""
    first, second = await two_writers(mongo_uri)
    try:
        await first.add_message(a_message("conv", text="one"))  # first's cache: conv at 1
        await second.add_message(a_message("conv", text="two"))  # seq 2, unknown to first
        batch = [a_message("fresh", text="x"), a_message("conv", text="three")]
        outcome = await asyncio.gather(*(first.add_message(m) for m in batch))
        assert [(m.conversation, m.seq, new) for m, new in outcome] == [
            ("fresh", 1, True), ("conv", 3, True)]
        assert [m.text for m in await second.get_messages("conv")] == ["one", "two", "three"]
        assert [m.text for m in await second.get_messages("fresh")] == ["x"]
    finally:
        for store in (first, second):
            await store.close()


async def test_the_retries_are_bounded_and_then_refuse_in_words(mongo_uri: str,
                                                                 monkeypatch) -> None:
    first, second = await two_writers(mongo_uri)
    try:
        await first.add_message(a_message("conv", text="one"))
        await second.add_message(a_message("conv", text="two"))
        stale = first._last_seq.copy()

        async def always_stale(conversation: str) -> int:
            first._last_seq.update(stale)  # the other writer keeps winning
            return await original(conversation)

        original = first._next_seq
        monkeypatch.setattr(first, "_next_seq", always_stale)
        try:
            await first.add_message(a_message("conv", text="three"))
        except mongo.StoreUnavailable as refused:
            assert "conflicting chat writes, retry" in str(refused)
        else:
            raise AssertionError("a write that always loses was acknowledged")
    finally:
        for store in (first, second):
            await store.close()
