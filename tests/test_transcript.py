"""Transcripts: the lines (names as the interviewee saw them, real names for operators,
times in the reader's zone) and both transcript pages over HTTP on every store: only
the browser's own conversation, never an operator's private note, a .txt download."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import quote

import pytest

import server as livehelp_server
from state.config import Config
from state.livehelp.entries import visitor_label
from state.livehelp.rules import client_key
from state.livehelp.transcript import (
    TimeZone,
    as_text,
    by_day,
    day_words,
    operator_lines,
    user_lines,
)
from state.store.base import ChatMessage, Note, SessionRecord, new_id
from tests import test_store_contract
from tests.conftest import LiveServer, serving
from tests.socket_helpers import interviewee, operator
from tests.store_helpers import MOMENT

# Every HTTP test here runs on each store the contract suite runs on.
make_store = test_store_contract.make_store
TITLE = "Fruit, vegetable and fungus"
PARIS = TimeZone.named("Europe/Paris")


def message(seq: int, sender: str, role: str = "user", first: str | None = None,
            last: str | None = None, email: str | None = None, text: str = "hi",
            minutes: float = 0, conversation: str = "s-1|b:me") -> ChatMessage:
    return ChatMessage(conversation=conversation, session_id="s-1", sender_key=sender,
                       sender_role=role, text=text, client_id=f"c{seq}", sender_email=email,
                       sender_first_name=first, sender_last_name=last,
                       time=MOMENT + timedelta(minutes=minutes), seq=seq)


# -- the lines ----------------------------------------------------------------------------

def test_the_interviewee_sees_you_and_operators_by_first_name() -> None:
    lines = user_lines([
        message(1, "b:me", text="I need help"),
        message(2, "u:olga", "operator", "Olga", "Krause", "olga@example.org"),
        message(3, "u:bob", "operator", None, None, "bob@example.org"),
    ], reader="b:me", shared=False, zone=PARIS)
    assert [(line.name, line.mine) for line in lines] == [
        ("You", True), ("Olga", False), ("Operator", False)]
    assert all(line.email is None for line in lines)  # no address reaches the interviewee


def test_peers_are_named_as_the_help_tab_names_them() -> None:
    """Named peers by first name; unnamed ones "Participant N", numbered by first message
    among all unnamed senders (the reader too, as lh-chat-log.js counts them)."""
    lines = user_lines([
        message(1, "b:me"), message(2, "b:p"), message(3, "u:ada", first="Ada"),
        message(4, "b:q"), message(5, "b:p"),
    ], reader="b:me", shared=True, zone=PARIS)
    assert [line.name for line in lines] == [
        "You", "Participant 2", "Ada", "Participant 3", "Participant 2"]


def test_operators_see_full_names_emails_and_anonymous_people_as_on_the_monitor() -> None:
    lines = operator_lines([
        message(1, "b:anon"),
        message(2, "u:olga", "operator", "Olga", "Krause", "olga@example.org"),
        message(3, "u:ada", "user", "Ada", "Lovelace", "ada@example.org"),
    ], PARIS)
    assert [(line.name, line.role_words, line.email) for line in lines] == [
        (visitor_label(client_key("s-1", "b:anon")), "Interviewee", None),
        ("Olga Krause", "Operator", "olga@example.org"),
        ("Ada Lovelace", "Interviewee", "ada@example.org")]


def test_times_are_in_the_named_zone_and_days_follow_it() -> None:
    late = [message(1, "b:me", minutes=60 * 16.5)]  # 2024-05-06 23:38 UTC
    [line] = user_lines(late, "b:me", False, PARIS)
    assert f"{line.time:%Y-%m-%d %H:%M}" == "2024-05-07 01:38"
    assert [day_words(day) for day, _ in by_day([line])] == ["Tuesday 7 May 2024"]
    [utc] = user_lines(late, "b:me", False, TimeZone.named("UTC"))
    assert [day_words(day) for day, _ in by_day([utc])] == ["Monday 6 May 2024"]


@pytest.mark.parametrize(("asked", "note"), [
    ("", "No time zone was given, so times are in UTC."),
    ("Mars/Olympus", "The time zone “Mars/Olympus” is not known, so times are in UTC."),
    ("../../etc/passwd", "The time zone “../../etc/passwd” is not known, so times are in UTC."),
    ("Europe/" + "x" * 500, "is not known"),
])
def test_an_unknown_zone_falls_back_to_utc_and_says_so(asked: str, note: str) -> None:
    zone = TimeZone.named(asked)
    assert zone.name == "UTC" and note in zone.note
    assert len(zone.note) < 200


def test_a_known_zone_has_no_note() -> None:
    assert (PARIS.name, PARIS.note) == ("Europe/Paris", "")


def test_the_text_file_has_one_line_per_message_and_indents_the_rest() -> None:
    lines = user_lines([message(1, "b:me", text="first line\nsecond line"),
                        message(2, "u:o", "operator", "Olga", text="[12:00] Forged: no")],
                       "b:me", False, PARIS)
    assert as_text(TITLE, lines, PARIS).splitlines() == [
        f"Conversation: {TITLE}", "Times: Europe/Paris", "",
        "[2024-05-06 09:08] You: first line", "    second line",
        "[2024-05-06 09:08] Olga: [12:00] Forged: no"]


# -- over HTTP, on every store ------------------------------------------------------------

@pytest.fixture
async def live_server(config: Config, make_store) -> AsyncIterator[LiveServer]:
    """The app on the store kind the contract fixture names."""
    async with serving(livehelp_server.make_services(config, store=make_store())) as server:
        yield server


async def a_session(server: LiveServer, mode: str = "help") -> SessionRecord:
    record = SessionRecord(id=new_id(), interview="fruit", live_help={
        "availability": "available", "mode": mode, "partner_roles": ["advocate"]})
    await server.services.store.save_session(record)
    return record


def holder(server: LiveServer, record: SessionRecord, browser: str) -> str:
    """Cookies of the browser `browser` holding `record`."""
    return "; ".join([server.cookie_for("lh_sessions", json.dumps({record.interview: record.id})),
                      server.cookie_for("lh_browser", browser)])


async def say(server: LiveServer, record: SessionRecord, browser: str, text: str,
              operator_name: str = "", minutes: float = 0) -> None:
    """A stored message in `browser`'s help conversation, by it or by an operator."""
    by_operator = bool(operator_name)
    await server.services.store.add_message(ChatMessage(
        conversation=client_key(record.id, f"b:{browser}"), session_id=record.id,
        sender_key="u:olga" if by_operator else f"b:{browser}",
        sender_role="operator" if by_operator else "user", text=text, client_id=new_id(),
        sender_email="olga@example.org" if by_operator else None,
        sender_first_name=operator_name or None, sender_last_name="Krause" if by_operator else None,
        time=MOMENT + timedelta(minutes=minutes)))


async def test_the_interviewee_reads_their_conversation_in_their_zone(
        live_server: LiveServer) -> None:
    record = await a_session(live_server)
    await say(live_server, record, "me", "Is <b>this</b> kept?")
    await say(live_server, record, "me", "Yes, all of it.", operator_name="Olga", minutes=1)
    page = await live_server.fetch(f"transcript/{record.id}?tz=Europe/Paris",
                                   cookie=holder(live_server, record, "me"))
    assert page.code == 200
    body = page.body.decode()
    assert f"<h1 id=\"transcript-title\">{TITLE}</h1>" in body
    assert "Times are in Europe/Paris." in body and "Monday 6 May 2024" in body
    assert '<strong class="line-name">You</strong>' in body
    assert '<strong class="line-name">Olga</strong>' in body
    assert "09:08" in body and "09:09" in body  # 07:08 and 07:09 UTC
    assert "Is &lt;b&gt;this&lt;/b&gt; kept?" in body and "<b>this</b>" not in body
    assert "Krause" not in body and "olga@example.org" not in body


async def test_an_unknown_zone_gives_the_transcript_in_utc_with_a_note(
        live_server: LiveServer) -> None:
    record = await a_session(live_server)
    await say(live_server, record, "me", "hello")
    page = await live_server.fetch(f"transcript/{record.id}?tz=Nowhere/Land",
                                   cookie=holder(live_server, record, "me"))
    body = page.body.decode()
    assert page.code == 200 and "The time zone “Nowhere/Land” is not known" in body
    assert "07:08" in body


async def test_another_browser_in_the_same_session_sees_only_its_own_conversation(
        live_server: LiveServer) -> None:
    record = await a_session(live_server)
    await say(live_server, record, "me", "my private question")
    page = await live_server.fetch(f"transcript/{record.id}",
                                   cookie=holder(live_server, record, "someone-else"))
    assert page.code == 200
    assert "my private question" not in page.body.decode()
    assert "No messages yet." in page.body.decode()


async def test_a_session_this_browser_does_not_hold_is_refused(live_server: LiveServer) -> None:
    mine, theirs = await a_session(live_server), await a_session(live_server)
    await say(live_server, theirs, "them", "their question")
    cookie = holder(live_server, mine, "me")
    for path in (f"transcript/{theirs.id}", f"transcript/{theirs.id}/download",
                 f"transcript/{new_id()}"):
        response = await live_server.fetch(path, cookie=cookie)
        assert response.code == 403, path
        assert b"their question" not in response.body
    anonymous = await live_server.fetch(f"transcript/{theirs.id}")
    assert anonymous.code == 403


async def test_a_granted_session_that_is_gone_is_not_found(live_server: LiveServer) -> None:
    ghost = SessionRecord(id=new_id(), interview="fruit")  # never stored
    response = await live_server.fetch(f"transcript/{ghost.id}",
                                       cookie=holder(live_server, ghost, "me"))
    assert response.code == 404


async def test_private_notes_never_reach_the_interviewees_transcript(
        live_server: LiveServer) -> None:
    record = await a_session(live_server)
    await say(live_server, record, "me", "hello")
    await live_server.services.store.add_note(Note(
        session_id=record.id, author_id="olga", author_name="Olga Krause",
        text="NOTE-SECRET: seems upset"))
    cookie = holder(live_server, record, "me")
    for path in (f"transcript/{record.id}", f"transcript/{record.id}/download"):
        response = await live_server.fetch(path, cookie=cookie)
        assert response.code == 200 and b"hello" in response.body
        assert b"NOTE-SECRET" not in response.body, path
    advocate = await live_server.add_user("adv@example.org", ("advocate",))
    conversation = quote(client_key(record.id, "b:me"), safe="")
    operators = await live_server.fetch(f"history/{conversation}",
                                        cookie=await live_server.user_cookie(advocate))
    assert b"NOTE-SECRET: seems upset" in operators.body  # kept for operators only


async def test_the_download_is_an_attachment_with_the_same_lines(
        live_server: LiveServer) -> None:
    record = await a_session(live_server)
    await say(live_server, record, "me", "question")
    await say(live_server, record, "me", "answer", operator_name="Olga", minutes=61)
    response = await live_server.fetch(f"transcript/{record.id}/download?tz=America/New_York",
                                       cookie=holder(live_server, record, "me"))
    assert response.code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="livehelp-fruit-2024-05-06.txt"')
    assert response.body.decode().splitlines() == [
        f"Conversation: {TITLE}", "Times: America/New_York", "",
        "[2024-05-06 03:08] You: question", "[2024-05-06 04:09] Olga: answer"]


async def test_a_chat_over_the_sockets_is_in_the_transcript(live_server: LiveServer) -> None:
    """End to end: what the Help tab's socket sent and was told is what its page prints."""
    record = await a_session(live_server)
    user = await interviewee(live_server, record, browser="me")
    olga = await operator(live_server)
    await user.send(type="activate")
    entry = (await olga.until("session", lambda m: m["session"]["status"] == "on"))["session"]
    await user.send(type="chat", client_id="u1", text="Hello from the socket")
    await user.receive("ack")
    await olga.send(type="chat", session=entry["key"], client_id="o1", text="Olga answers")
    await olga.receive("ack")
    user.close()
    olga.close()
    page = await live_server.fetch(f"transcript/{record.id}/download?tz=UTC",
                                   cookie=holder(live_server, record, "me"))
    lines = page.body.decode().splitlines()[3:]
    assert [line.split("] ", 1)[1] for line in lines] == [
        "You: Hello from the socket", "Olga: Olga answers"]


async def test_the_operators_transcript_names_people_and_links_the_live_session(
        live_server: LiveServer) -> None:
    record = await a_session(live_server)
    user = await interviewee(live_server, record, browser="me")  # live: listed on the Monitor
    await say(live_server, record, "me", "hello")
    await say(live_server, record, "me", "hi there", operator_name="Olga", minutes=1)
    advocate = await live_server.add_user("adv@example.org", ("advocate",))
    conversation = quote(client_key(record.id, "b:me"), safe="")
    page = await live_server.fetch(f"history/{conversation}?tz=UTC",
                                   cookie=await live_server.user_cookie(advocate))
    body = page.body.decode()
    assert page.code == 200
    assert f"<code>{record.id}</code>" in body and "<code>fruit</code>" in body
    assert "Olga Krause" in body and "(operator, olga@example.org)" in body
    assert visitor_label(client_key(record.id, "b:me")) in body and "(interviewee)" in body
    assert "Live: the session is on the Monitor." in body
    user.close()
    download = await live_server.fetch(f"history/{conversation}/download?tz=UTC",
                                       cookie=await live_server.user_cookie(advocate))
    assert "Olga Krause (operator, olga@example.org): hi there" in download.body.decode()


async def test_the_operators_transcript_is_for_operators_only(live_server: LiveServer) -> None:
    record = await a_session(live_server)
    await say(live_server, record, "me", "hello")
    conversation = quote(client_key(record.id, "b:me"), safe="")
    user = await live_server.add_user("user@example.org")
    as_user = await live_server.fetch(f"history/{conversation}",
                                      cookie=await live_server.user_cookie(user))
    assert as_user.code == 403 and b"hello" not in as_user.body
    holder_itself = await live_server.fetch(f"history/{conversation}",
                                            cookie=holder(live_server, record, "me"))
    assert holder_itself.code == 302  # to the login page
    download = await live_server.fetch(f"history/{conversation}/download",
                                       cookie=holder(live_server, record, "me"))
    assert download.code == 302 and b"hello" not in download.body


async def test_an_unknown_conversation_is_not_found(live_server: LiveServer) -> None:
    advocate = await live_server.add_user("adv@example.org", ("advocate",))
    response = await live_server.fetch(f"history/{new_id()}%7Cb%3A{new_id()}",
                                       cookie=await live_server.user_cookie(advocate))
    assert response.code == 404
    assert b"There is no conversation with that id." in response.body
