"""Canned replies and private notes over real sockets and the admin page, on both stores
(docs/protocol.md, "Canned replies and notes"; state/livehelp/desk_rules.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest

import server as livehelp_server
from state.config import Config
from state.livehelp.desk_rules import MAX_REPLIES
from state.store.base import CannedReply
from state.store.mongo import MongoStore
from tests.conftest import LiveServer, serving
from tests.frames import decode_frame
from tests.socket_helpers import Person, interviewee, live_session, operator
from tests.test_sockets import until_sentinel

NOTE = "Owes two months of rent; landlord is Mr Grey"
ANN_KEY = "{}|b:ann"  # the entry key of browser "ann" in a help-mode session


@pytest.fixture(params=["sqlite", "nx27017"])
async def desk_server(request: pytest.FixtureRequest, config: Config) -> AsyncIterator[LiveServer]:
    """The whole app on SQLite, then on nx-27017 (a fresh MongoDB database per test)."""
    store = None
    if request.param == "nx27017":
        store = MongoStore(request.getfixturevalue("mongo_uri"), f"desk_{uuid.uuid4().hex}")
    async with serving(livehelp_server.make_services(config, store)) as server:
        yield server


async def xsrf(server: LiveServer, cookie: str) -> tuple[str, str]:
    """A form token and the cookies to send with it (the `_xsrf` cookie added)."""
    response = await server.fetch("admin/replies", cookie=cookie)
    for header in response.headers.get_list("Set-Cookie"):
        if header.startswith("_xsrf="):
            token = header.split(";")[0].split("=", 1)[1]
            return token, f"{cookie}; _xsrf={token}"
    raise AssertionError("no _xsrf cookie")


async def admin_post(server: LiveServer, cookie: str, **form: str):
    token, jar = await xsrf(server, cookie)
    return await server.fetch("admin/replies", "POST", {**form, "_xsrf": token}, jar)


async def acked(person: Person, client_id: str) -> dict:
    """The `ack` of `client_id`; fails on an `error` about it."""
    while True:
        message = await person.receive()
        assert not (message["type"] == "error" and message["ref"] == client_id), message
        if message["type"] == "ack" and message["client_id"] == client_id:
            return message


async def refusal(person: Person, client_id: str) -> dict:
    return await person.until("error", lambda m: m["ref"] == client_id)


async def test_the_picker_list_comes_with_the_snapshot_shared_and_own(desk_server) -> None:
    store = desk_server.services.store
    olga = await operator(desk_server, available=False)
    await store.save_canned_reply(CannedReply("Opening hours", "We answer 9 to 5."))
    await store.save_canned_reply(CannedReply("apology", "Sorry, {first_name}.",
                                              owner_id=olga.user.id))
    await store.save_canned_reply(CannedReply("Bob's own", "Hi", owner_id="someone-else"))
    await olga.send(type="hello", last_seq={})
    await olga.receive("monitor")
    listed = await olga.receive()  # messages_left, then the replies, before any history
    while listed["type"] != "canned_replies":
        assert listed["type"] == "messages_left", listed
        listed = await olga.receive()
    assert [(r["title"], r["shared"]) for r in listed["replies"]] == [
        ("apology", False), ("Opening hours", True)]


async def test_own_replies_are_saved_edited_deleted_and_reach_only_their_owner(
        desk_server) -> None:
    olga = await operator(desk_server, available=False)
    olga_tab = Person(await desk_server.websocket(
        "ws/monitor", await desk_server.user_cookie(olga.user)))
    await olga_tab.receive("monitor")
    bob = await operator(desk_server, "bob@example.com", available=False, first_name="Bob")

    await olga.send(type="save_reply", client_id="r-1", title="Housing benefit",
                    text="Hello {first_name}, about {interview}: ")
    reply_id = (await acked(olga, "r-1"))["id"]
    added = await olga_tab.receive("canned_reply")
    assert added["reply"] == {"id": reply_id, "title": "Housing benefit", "shared": False,
                              "text": "Hello {first_name}, about {interview}:"}
    assert all(m["type"] != "canned_reply" for m in await until_sentinel(bob))

    await olga.send(type="save_reply", client_id="r-2", id=reply_id, title="Housing",
                    text="Changed")
    await acked(olga, "r-2")
    assert (await olga_tab.receive("canned_reply"))["reply"]["title"] == "Housing"
    await bob.send(type="save_reply", client_id="b-1", id=reply_id, title="Mine now", text="x")
    assert (await refusal(bob, "b-1"))["code"] == "unknown_reply"
    await bob.send(type="delete_reply", client_id="b-2", id=reply_id)
    assert (await refusal(bob, "b-2"))["code"] == "unknown_reply"

    await olga.send(type="delete_reply", client_id="r-3", id=reply_id)
    await acked(olga, "r-3")
    assert (await olga_tab.receive("canned_reply_gone"))["id"] == reply_id
    assert await desk_server.services.store.list_canned_replies(olga.user.id) == []


async def test_an_operator_cannot_change_a_shared_reply(desk_server) -> None:
    shared = CannedReply("Opening hours", "We answer 9 to 5.")
    await desk_server.services.store.save_canned_reply(shared)
    olga = await operator(desk_server, available=False)
    await olga.send(type="save_reply", client_id="r-1", id=shared.id, title="Mine", text="x")
    assert (await refusal(olga, "r-1"))["code"] == "unknown_reply"
    await olga.send(type="delete_reply", client_id="r-2", id=shared.id)
    assert (await refusal(olga, "r-2"))["code"] == "unknown_reply"
    kept, = await desk_server.services.store.list_canned_replies(None)
    assert (kept.id, kept.title, kept.text) == (shared.id, "Opening hours", "We answer 9 to 5.")


@pytest.mark.parametrize(("title", "text", "words"), [
    ("", "text", "A reply needs a title."),
    ("t" * 101, "text", "This title is too long: at most 100 characters."),
    ("Title", "   ", "A reply cannot be empty."),
    ("Title", "x" * 2001, "This reply is too long: at most 2,000 characters."),
])
async def test_a_reply_over_the_limits_is_refused_in_words(live_server, title, text,
                                                           words) -> None:
    olga = await operator(live_server, available=False)
    await olga.send(type="save_reply", client_id="r-1", title=title, text=text)
    refused = await refusal(olga, "r-1")
    assert (refused["code"], refused["message"]) == ("bad_field", words)
    assert await live_server.services.store.list_canned_replies(olga.user.id) == []


async def test_an_operator_keeps_at_most_the_most_replies(live_server) -> None:
    store = live_server.services.store
    olga = await operator(live_server, available=False)
    for number in range(MAX_REPLIES):
        await store.save_canned_reply(CannedReply(f"r{number}", "x", owner_id=olga.user.id))
    await olga.send(type="save_reply", client_id="r-1", title="One more", text="x")
    refused = await refusal(olga, "r-1")
    assert refused["code"] == "too_many_replies"
    assert refused["message"].startswith("There are 200 replies of your own already")
    assert len(await store.list_canned_replies(olga.user.id)) == MAX_REPLIES


async def test_the_admin_page_adds_edits_and_deletes_shared_replies_live(desk_server) -> None:
    server = desk_server
    admin = await server.add_user("root@example.com", ("admin",))
    cookie = await server.user_cookie(admin)
    olga = await operator(server, available=False)

    added = await admin_post(server, cookie, action="save", title="Opening hours",
                             text="We answer 9 to 5, {first_name}.")
    assert added.code == 200 and "Saved “Opening hours”" in added.body.decode()
    reply = (await olga.receive("canned_reply"))["reply"]
    assert (reply["title"], reply["shared"]) == ("Opening hours", True)

    edit_page = await server.fetch(f"admin/replies?edit={reply['id']}", cookie=cookie)
    assert "Edit “Opening hours”" in edit_page.body.decode()
    edited = await admin_post(server, cookie, action="save", id=reply["id"],
                              title="Hours", text="9 to 5")
    assert edited.code == 200
    assert (await olga.receive("canned_reply"))["reply"] == {**reply, "title": "Hours",
                                                             "text": "9 to 5"}
    deleted = await admin_post(server, cookie, action="delete", id=reply["id"])
    assert deleted.code == 200 and "Deleted “Hours”" in deleted.body.decode()
    assert (await olga.receive("canned_reply_gone"))["id"] == reply["id"]

    actions = [(a.action, a.detail) for a in await server.services.store.list_audit()]
    assert actions[:3] == [("delete shared reply", "Hours"), ("edit shared reply", "Hours"),
                           ("add shared reply", "Opening hours")]


async def test_the_admin_page_refuses_in_words_and_keeps_what_was_typed(live_server) -> None:
    admin = await live_server.add_user("root@example.com", ("admin",))
    cookie = await live_server.user_cookie(admin)
    refused = await admin_post(live_server, cookie, action="save", title="t" * 101,
                               text="Kept <b>as typed</b>")
    page = refused.body.decode()
    assert refused.code == 400 and "This title is too long: at most 100 characters." in page
    assert "Kept &lt;b&gt;as typed&lt;/b&gt;" in page  # escaped, still in the box
    assert await live_server.services.store.list_canned_replies(None) == []
    gone = await live_server.fetch("admin/replies?edit=no-such-reply", cookie=cookie)
    assert gone.code == 404


async def test_a_note_reaches_operators_and_never_the_interviewees_socket(desk_server) -> None:
    record = await live_session(desk_server)
    user = await interviewee(desk_server, record)
    olga = await operator(desk_server)
    await user.send(type="activate")
    entry = (await olga.until("session", lambda m: m["session"]["status"] == "on"))["session"]
    bob = await operator(desk_server, "bob@example.com", first_name="Bob")

    frames: list[str] = [json.dumps(m) for m in user.ws.__dict__.get("_livehelp_pending", ())]
    user.ws.__dict__.pop("_livehelp_pending", None)  # from here on read raw frames only

    await olga.send(type="add_note", client_id="n-1", session=entry["key"], text=NOTE)
    note_id = (await acked(olga, "n-1"))["id"]
    pushed = await bob.until("note", lambda m: True)  # sentinel 1: the note went out
    assert (pushed["session"], pushed["note"]["text"], pushed["note"]["author"]) == (
        record.id, NOTE, "Olga")
    assert pushed["note"]["id"] == note_id

    await olga.send(type="chat", session=entry["key"], client_id="c-1", text="Hello Ann")
    while True:  # sentinel 2: a chat sent after the note reached the user's socket
        frames.append(await user.ws.read_message())
        if any(m.get("text") == "Hello Ann" for m in decode_frame(frames[-1])):
            break
    assert frames and all(NOTE not in frame and note_id not in frame for frame in frames)

    audit = await desk_server.services.store.list_audit()
    assert (audit[0].action, audit[0].session_id, audit[0].detail) == (
        "add note", record.id, NOTE)


async def test_notes_are_kept_after_a_transfer(live_server) -> None:
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    olga = await operator(live_server)
    await user.send(type="activate")
    entry = (await olga.until("session", lambda m: m["session"]["status"] == "on"))["session"]
    bob = await operator(live_server, "bob@example.com", first_name="Bob")
    for number, text in enumerate(("Called back", NOTE)):
        await olga.send(type="add_note", client_id=f"n-{number}", session=entry["key"],
                        text=text)
        await acked(olga, f"n-{number}")
    await olga.send(type="transfer", session=entry["key"], to=bob.user.id, note="")
    await bob.until("session", lambda m: m["session"]["operator_id"] == bob.user.id)
    await bob.send(type="notes", session=entry["key"])
    listed = await bob.receive("notes")
    assert listed["session"] == record.id
    assert [(n["author"], n["text"]) for n in listed["notes"]] == [
        ("Olga", "Called back"), ("Olga", NOTE)]


async def test_notes_are_kept_after_a_restart(config: Config) -> None:
    async with serving(livehelp_server.make_services(config)) as server:
        record = await live_session(server)
        user = await interviewee(server, record, browser="ann")
        olga = await operator(server, available=False)
        await olga.send(type="add_note", client_id="n-1", session=ANN_KEY.format(record.id),
                        text=NOTE)
        await acked(olga, "n-1")
        user.close()
        olga.close()
    async with serving(livehelp_server.make_services(config)) as server:
        await interviewee(server, record, browser="ann")
        bob = await operator(server, "bob@example.com", available=False, first_name="Bob")
        await bob.send(type="notes", session=ANN_KEY.format(record.id))
        assert [n["text"] for n in (await bob.receive("notes"))["notes"]] == [NOTE]


@pytest.mark.parametrize(("text", "words"), [
    ("  ", "A note cannot be empty."),
    ("x" * 2001, "This note is too long: at most 2,000 characters."),
])
async def test_a_note_over_the_limits_is_refused_in_words(live_server, text, words) -> None:
    record = await live_session(live_server)
    await interviewee(live_server, record, browser="ann")
    olga = await operator(live_server, available=False)
    await olga.send(type="add_note", client_id="n-1", session=ANN_KEY.format(record.id),
                    text=text)
    refused = await refusal(olga, "n-1")
    assert (refused["code"], refused["message"]) == ("bad_field", words)
    assert await live_server.services.store.list_notes(record.id) == []


async def test_notes_of_an_unknown_entry_are_refused(live_server) -> None:
    olga = await operator(live_server, available=False)
    await olga.send(type="notes", session="no-such|b:key")
    assert (await refusal(olga, "notes"))["code"] == "unknown_session"
    await olga.send(type="add_note", client_id="n-1", session="no-such|b:key", text="x")
    assert (await refusal(olga, "n-1"))["code"] == "unknown_session"


async def test_the_interviewees_socket_does_not_take_desk_messages(live_server) -> None:
    record = await live_session(live_server)
    user = await interviewee(live_server, record)
    for kind in ("save_reply", "delete_reply", "add_note", "notes"):
        await user.send(type=kind, client_id="x", session=record.id, text="x", title="x", id="x")
        assert (await user.until("error", lambda m: True))["code"] == "unknown_type"
