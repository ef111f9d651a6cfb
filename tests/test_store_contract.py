"""The store contract: every Store implementation behaves the same.

Each test runs against SQLite (temp dir), nx-27017 (fresh database per test) and,
when MONGODB_URI is set, a real MongoDB. Times are compared at millisecond
precision, the precision both stores keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from state.store.base import (
    AuditEntry,
    CannedReply,
    DuplicateEmail,
    Handover,
    LeftMessage,
    Note,
    OperatorSettings,
    Rating,
    SessionRecord,
    SignIn,
    Store,
    StoreUnavailable,
    new_id,
    utcnow,
)
from state.store.mongo import MongoStore
from state.store.sqlite import SQLiteStore
from tests.fixtures_mongo import real_mongodb_uri
from tests.store_helpers import MOMENT, a_message, a_user

StoreFactory = Callable[[], Store]

# A moment with whole milliseconds, so it survives every store unchanged.


@pytest.fixture(params=["sqlite", "nx27017", "mongodb"])
async def make_store(request: pytest.FixtureRequest,
                     tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """A factory of unopened stores that all share one fresh database of the kind
    named by the parameter; the database is dropped afterwards where it outlives the test."""
    kind = request.param
    if kind == "sqlite":
        path = tmp_path / "store" / "livehelp.sqlite3"
        yield lambda: SQLiteStore(path)
        return
    if kind == "nx27017":
        uri = request.getfixturevalue("mongo_uri")
    else:
        uri = real_mongodb_uri()
        if uri is None:
            pytest.skip("MONGODB_URI is not set")
    database = f"contract_{uuid.uuid4().hex}"
    yield lambda: MongoStore(uri, database)
    if kind == "mongodb":
        client: AsyncMongoClient = AsyncMongoClient(uri)
        await client.drop_database(database)
        await client.close()


@pytest.fixture
async def store(make_store: StoreFactory) -> AsyncIterator[Store]:
    """An open store on a fresh database; closed after the test."""
    opened = make_store()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@contextlib.contextmanager
def unused_port() -> Iterator[int]:
    """A port bound (so nobody else takes it) but never listened on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def a_session(availability: str | None = "available") -> SessionRecord:
    live_help = {} if availability is None else {
        "availability": availability, "mode": "help", "partner_roles": ["advocate"]}
    return SessionRecord(id=new_id(), interview="demo", live_help=live_help)


def assert_utc(moment: datetime) -> None:
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


# -- accounts -----------------------------------------------------------------


async def test_created_user_is_found_by_id(store: Store) -> None:
    user = await store.create_user(a_user())
    assert await store.get_user(user.id) == user


async def test_unknown_user_id_gives_none(store: Store) -> None:
    assert await store.get_user("nobody") is None


async def test_user_is_found_by_email_whatever_the_case(store: Store) -> None:
    user = await store.create_user(a_user("Ada@Example.org"))
    found = await store.get_user_by_email("ada@EXAMPLE.ORG")
    assert found == user
    assert found is not None and found.email == "Ada@Example.org"


async def test_users_are_listed_in_email_order_ignoring_case(store: Store) -> None:
    for email in ("carol@example.org", "Bob@example.org", "alice@example.org"):
        await store.create_user(a_user(email))
    emails = [user.email for user in await store.list_users()]
    assert emails == ["alice@example.org", "Bob@example.org", "carol@example.org"]


async def test_update_user_replaces_names_privileges_and_password(store: Store) -> None:
    user = await store.create_user(a_user())
    user.first_name, user.last_name = "Augusta", "King"
    user.privileges = ["admin", "advocate"]
    user.password_hash = "scrypt$new"
    await store.update_user(user)
    assert await store.get_user(user.id) == user


async def test_email_differing_only_in_case_is_a_duplicate(store: Store) -> None:
    await store.create_user(a_user("ada@example.org"))
    with pytest.raises(DuplicateEmail):
        await store.create_user(a_user("ADA@example.org"))
    assert len(await store.list_users()) == 1


async def test_user_created_time_comes_back_as_utc(store: Store) -> None:
    eastern = timezone(timedelta(hours=-5))
    user = await store.create_user(a_user(created=MOMENT.astimezone(eastern)))
    found = await store.get_user(user.id)
    assert found is not None and found.created == MOMENT
    assert_utc(found.created)


# -- operator settings --------------------------------------------------------


async def test_operator_settings_default_when_never_saved(store: Store) -> None:
    assert await store.get_operator_settings("op-1") == OperatorSettings(user_id="op-1")


async def test_saved_operator_settings_are_returned(store: Store) -> None:
    settings = OperatorSettings(user_id="op-1", available=True,
                                roles=["advocate", "family law"], phone="+15551234567")
    await store.save_operator_settings(settings)
    settings.available = False
    await store.save_operator_settings(settings)
    assert await store.get_operator_settings("op-1") == settings
    settings.capacity = 6  # survives a restart, like the rest
    await store.save_operator_settings(settings)
    assert (await store.get_operator_settings("op-1")).capacity == 6


# -- interview sessions -------------------------------------------------------


async def test_session_round_trips_every_field(store: Store) -> None:
    record = SessionRecord(
        id=new_id(), interview="fruit", owner_id="user-1",
        answers={"name": "Ada", "fruits": ["apple", "pear"], "age": 36, "nested": {"a": None}},
        progress={"visited": ["intro", "fruit"], "current": "review"},
        live_help={"availability": "observeonly", "mode": "peer", "partner_roles": ["advocate"]},
        blocked=True, created=MOMENT)
    await store.save_session(record)
    found = await store.get_session(record.id)
    assert found == record
    assert found is not None
    assert_utc(found.created)
    assert_utc(found.updated)


async def test_save_session_sets_updated_to_now(store: Store) -> None:
    record = a_session()
    record.updated = MOMENT
    before = utcnow() - timedelta(seconds=1)
    await store.save_session(record)
    found = await store.get_session(record.id)
    assert found is not None and found.updated == record.updated
    assert before <= record.updated <= utcnow()


async def test_saving_a_session_again_replaces_it(store: Store) -> None:
    record = a_session()
    await store.save_session(record)
    record.answers = {"color": "green"}
    record.blocked = True
    await store.save_session(record)
    assert await store.get_session(record.id) == record


async def test_unknown_session_gives_none(store: Store) -> None:
    assert await store.get_session("no-such-session") is None


async def test_messages_are_numbered_per_conversation(store: Store) -> None:
    seqs = [(await store.add_message(a_message(conversation)))[0].seq
            for conversation in ("one", "one", "two", "one", "two")]
    assert seqs == [1, 2, 1, 3, 2]


async def test_new_message_is_reported_new_with_every_field(store: Store) -> None:
    message = a_message()
    stored, created = await store.add_message(message)
    assert created is True
    assert stored.seq == 1
    assert (await store.get_messages(message.conversation)) == [stored]
    assert stored.text == message.text and stored.sender_email == "ada@example.org"
    assert_utc(stored.time)


async def test_repeated_message_returns_the_stored_one_and_false(store: Store) -> None:
    first, _ = await store.add_message(a_message(client_id="c-1", text="hello"))
    await store.add_message(a_message(client_id="c-2"))
    again, created = await store.add_message(a_message(client_id="c-1", text="hello again"))
    assert created is False
    assert again == first
    assert await store.count_messages() == 2


async def test_get_messages_after_seq_in_order(store: Store) -> None:
    for number in range(5):
        await store.add_message(a_message(text=f"message {number}"))
    await store.add_message(a_message("other"))
    later = await store.get_messages("conv-1", after_seq=2)
    assert [(message.seq, message.text) for message in later] == [
        (3, "message 2"), (4, "message 3"), (5, "message 4")]


async def test_count_messages_counts_every_conversation(store: Store) -> None:
    assert await store.count_messages() == 0
    for conversation in ("one", "two", "two"):
        await store.add_message(a_message(conversation))
    assert await store.count_messages() == 3


async def test_concurrent_messages_get_distinct_consecutive_seqs(store: Store) -> None:
    results = await asyncio.gather(
        *(store.add_message(a_message(text=f"m{number}")) for number in range(50)))
    assert sorted(message.seq for message, _ in results) == list(range(1, 51))
    assert all(created for _, created in results)


async def test_a_repeat_sent_at_the_same_time_is_stored_once(store: Store) -> None:
    first, again = await asyncio.gather(store.add_message(a_message(client_id="same")),
                                        store.add_message(a_message(client_id="same")))
    assert first[0].seq == again[0].seq == 1
    assert sorted([first[1], again[1]]) == [False, True]
    assert await store.count_messages() == 1


async def test_concurrent_messages_of_many_conversations_number_each_alone(store: Store) -> None:
    results = await asyncio.gather(*(store.add_message(
        a_message(conversation=f"c{number % 3}", text=f"m{number}")) for number in range(30)))
    for conversation in ("c0", "c1", "c2"):
        seqs = sorted(m.seq for m, _ in results if m.conversation == conversation)
        assert seqs == list(range(1, 11))


# -- audit --------------------------------------------------------------------


async def test_audit_lists_newest_first_up_to_limit(store: Store) -> None:
    for minute in range(5):
        await store.add_audit(AuditEntry(actor_id="op-1", actor_email="op@example.org",
                                         action="observe", session_id=f"s{minute}",
                                         time=MOMENT + timedelta(minutes=minute)))
    entries = await store.list_audit(limit=3)
    assert [entry.session_id for entry in entries] == ["s4", "s3", "s2"]
    assert entries[0].time == MOMENT + timedelta(minutes=4)
    assert_utc(entries[0].time)


# -- lifetime -----------------------------------------------------------------


async def test_data_persists_across_close_and_reopen(make_store: StoreFactory) -> None:
    first = make_store()
    await first.open()
    user = await first.create_user(a_user())
    message, _ = await first.add_message(a_message())
    await first.close()
    second = make_store()
    await second.open()
    try:
        assert await second.get_user(user.id) == user
        assert await second.get_messages("conv-1") == [message]
        assert (await second.add_message(a_message()))[0].seq == 2
    finally:
        await second.close()


async def test_mongo_store_without_a_server_is_unavailable() -> None:
    with unused_port() as port, pytest.raises(StoreUnavailable):
        await MongoStore(f"mongodb://127.0.0.1:{port}", "nothing").open()


# -- accounts in bulk, removal, sign-ins ---------------------------------------


def a_sign_in(user_id: str, created: datetime = MOMENT,
              last_seen: datetime | None = None) -> SignIn:
    return SignIn(id_hash=new_id(), user_id=user_id, created=created,
                  last_seen=last_seen or created)


async def test_get_users_gives_the_existing_ones_in_one_call(store: Store) -> None:
    ada = await store.create_user(a_user("ada@example.org"))
    bob = await store.create_user(a_user("bob@example.org"))
    found = await store.get_users([bob.id, "nobody", ada.id, bob.id])
    assert sorted(found, key=lambda user: user.email) == [ada, bob]
    # More ids than SQLite binds in one query, the ones that exist at the end.
    many = [f"nobody-{number}" for number in range(1200)] + [bob.id, ada.id]
    assert sorted(await store.get_users(many), key=lambda user: user.email) == [ada, bob]
    assert await store.get_users([]) == []


async def test_sign_in_round_trips_and_unknown_ones_are_absent(store: Store) -> None:
    first, second = a_sign_in("u1"), a_sign_in("u2", last_seen=MOMENT + timedelta(hours=1))
    for sign_in in (first, second):
        await store.create_sign_in(sign_in)
    found = await store.get_sign_ins([second.id_hash, "unknown", first.id_hash])
    assert sorted(found, key=lambda s: s.user_id) == [first, second]
    for sign_in in found:
        assert_utc(sign_in.created)
        assert_utc(sign_in.last_seen)
    assert await store.get_sign_ins(["unknown"]) == []


async def test_touch_moves_last_seen_of_the_named_sign_ins_only(store: Store) -> None:
    touched, other = a_sign_in("u1"), a_sign_in("u1")
    for sign_in in (touched, other):
        await store.create_sign_in(sign_in)
    later = MOMENT + timedelta(minutes=5)
    await store.touch_sign_ins([touched.id_hash], later)
    by_hash = {s.id_hash: s for s in await store.get_sign_ins([touched.id_hash, other.id_hash])}
    assert by_hash[touched.id_hash].last_seen == later
    assert by_hash[touched.id_hash].created == MOMENT
    assert by_hash[other.id_hash].last_seen == MOMENT


async def test_sign_ins_end_one_by_one_or_all_of_an_account(store: Store) -> None:
    one, two, three = a_sign_in("u1"), a_sign_in("u1"), a_sign_in("u1")
    someone_else = a_sign_in("u2")
    for sign_in in (one, two, three, someone_else):
        await store.create_sign_in(sign_in)
    hashes = [s.id_hash for s in (one, two, three, someone_else)]
    await store.delete_sign_ins([one.id_hash])
    assert {s.id_hash for s in await store.get_sign_ins(hashes)} == set(hashes[1:])
    await store.delete_user_sign_ins("u1")
    assert await store.get_sign_ins(hashes) == [someone_else]


async def test_stale_sign_ins_go_by_last_seen_or_by_age(store: Store) -> None:
    idle = a_sign_in("u1", created=MOMENT, last_seen=MOMENT)
    old = a_sign_in("u1", created=MOMENT - timedelta(days=40), last_seen=MOMENT + timedelta(hours=5))
    fresh = a_sign_in("u1", created=MOMENT, last_seen=MOMENT + timedelta(hours=5))
    for sign_in in (idle, old, fresh):
        await store.create_sign_in(sign_in)
    removed = await store.delete_stale_sign_ins(seen_before=MOMENT + timedelta(hours=1),
                                                created_before=MOMENT - timedelta(days=30))
    assert removed == 2
    hashes = [s.id_hash for s in (idle, old, fresh)]
    assert await store.get_sign_ins(hashes) == [fresh]


async def test_delete_user_removes_the_account_its_settings_and_sign_ins(store: Store) -> None:
    ada = await store.create_user(a_user("ada@example.org"))
    bob = await store.create_user(a_user("bob@example.org"))
    await store.save_operator_settings(OperatorSettings(ada.id, True, ["advocate"], "+15551230000"))
    ada_in, bob_in = a_sign_in(ada.id), a_sign_in(bob.id)
    for sign_in in (ada_in, bob_in):
        await store.create_sign_in(sign_in)
    await store.delete_user(ada.id)
    assert await store.get_user(ada.id) is None
    assert await store.get_user_by_email("ada@example.org") is None
    assert await store.get_operator_settings(ada.id) == OperatorSettings(ada.id)
    assert await store.get_sign_ins([ada_in.id_hash, bob_in.id_hash]) == [bob_in]
    assert await store.get_user(bob.id) == bob
    # The email is free again.
    assert (await store.create_user(a_user("ada@example.org"))).email == "ada@example.org"


# -- chat pages and sizes (paged history, the conversation quota) -------------


async def test_get_messages_gives_at_most_limit_oldest_first(store: Store) -> None:
    for number in range(6):
        await store.add_message(a_message(text=f"message {number}"))
    page = await store.get_messages("conv-1", after_seq=1, limit=3)
    assert [message.seq for message in page] == [2, 3, 4]
    rest = await store.get_messages("conv-1", after_seq=4, limit=3)
    assert [message.seq for message in rest] == [5, 6]


async def test_conversation_characters_counts_its_stored_text_only(store: Store) -> None:
    assert await store.conversation_characters("conv-1") == 0
    await store.add_message(a_message(text="hello"))
    await store.add_message(a_message(text="grüße 👋"))  # characters, not bytes
    await store.add_message(a_message("other", text="not this one"))
    assert await store.conversation_characters("conv-1") == len("hello") + len("grüße 👋")


async def test_conversation_tail_is_the_last_message_and_the_last_operator_reply(
        store: Store) -> None:
    assert await store.conversation_tail("conv-1") == (None, 0)
    await store.add_message(a_message(text="question"))
    reply = dataclasses.replace(a_message(text="answer"), sender_role="operator",
                                sender_key="u:olga")
    await store.add_message(reply)
    await store.add_message(a_message(text="more"))
    await store.add_message(a_message("other", text="not this one"))
    last, answered = await store.conversation_tail("conv-1")
    assert (last.seq, last.text, answered) == (3, "more", 2)


# -- messages left -------------------------------------------------------------------


async def test_messages_left_are_listed_until_handled_oldest_first(store: Store) -> None:
    first = LeftMessage("s-1", "demo", "s-1|b:1", "Please call me", contact="+12762410114",
                        created=MOMENT)
    second = LeftMessage("s-2", "demo", "s-2|u:ann", "Question about rent", name="Ann Lee",
                         created=MOMENT + timedelta(minutes=1))
    for message in (second, first):
        await store.add_left_message(message)
    assert await store.list_left_messages() == [first, second]
    assert await store.get_left_message(second.id) == second
    handled = await store.mark_left_message_handled(first.id, "olga@example.org")
    assert handled.handled_by == "olga@example.org" and handled.handled_at is not None
    again = await store.mark_left_message_handled(first.id, "bob@example.org")
    assert again.handled_by == "olga@example.org"  # the first operator's mark stays
    assert await store.list_left_messages() == [second]
    assert await store.mark_left_message_handled("no-such-id", "olga@example.org") is None
    assert await store.get_left_message("no-such-id") is None


async def test_the_last_handover_of_a_conversation_is_kept(store: Store) -> None:
    assert await store.get_handover("c-1") is None
    await store.save_handover(Handover("c-1", "op-2", None, "Olga", "Rent arrears", MOMENT))
    closed = Handover("c-1", None, "Bob", time=MOMENT + timedelta(minutes=1))
    await store.save_handover(closed)
    assert await store.get_handover("c-1") == closed

# -- canned replies, notes, ratings --------------------------------------------------


async def test_canned_replies_shared_and_own(store: Store) -> None:
    shared = CannedReply("Opening hours", "We answer 9 to 5, {first_name}.", created=MOMENT)
    mine = CannedReply("apology", "Sorry for the wait.", owner_id="op-1", created=MOMENT)
    theirs = CannedReply("Bob's", "Hi", owner_id="op-2", created=MOMENT)
    for reply in (shared, mine, theirs):
        await store.save_canned_reply(reply)
    assert await store.list_canned_replies("op-1") == [mine, shared]  # by title, any case
    assert await store.list_canned_replies(None) == [shared]
    mine.text = "Sorry for the wait, {first_name}."
    await store.save_canned_reply(mine)
    assert (await store.list_canned_replies("op-1"))[0].text.endswith("{first_name}.")
    assert not await store.delete_canned_reply(theirs.id, "op-1")  # not op-1's
    assert not await store.delete_canned_reply(shared.id, "op-1")  # shared: admins only
    assert await store.delete_canned_reply(shared.id, None)
    assert await store.list_canned_replies("op-1") == [mine]


async def test_notes_of_a_session_oldest_first(store: Store) -> None:
    first = Note("s-1", "op-1", "Olga", "Called back", created=MOMENT)
    second = Note("s-1", "op-2", "Bob", "Needs a tax adviser",
                  created=MOMENT + timedelta(minutes=5))
    for note in (second, first, Note("s-2", "op-1", "Olga", "other", created=MOMENT)):
        await store.add_note(note)
    assert await store.list_notes("s-1") == [first, second]
    assert await store.list_notes("none") == []


async def test_one_rating_per_conversation(store: Store) -> None:
    rating = Rating("c-1", "s-1", "demo", 5, "Very helpful", "op-1", created=MOMENT)
    assert await store.add_rating(rating)
    assert not await store.add_rating(Rating("c-1", "s-1", "demo", 1, created=MOMENT))
    later = Rating("c-2", "s-2", "demo", 3, created=MOMENT + timedelta(days=2))
    assert await store.add_rating(later)
    assert await store.list_ratings(MOMENT, MOMENT + timedelta(days=1)) == [rating]
    assert await store.list_ratings(MOMENT, MOMENT + timedelta(days=3)) == [rating, later]
