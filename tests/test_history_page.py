"""The history page over HTTP on every store: operators only, conversations newest first
and paged both ways, a search whose hits are escaped before they are marked, filters
by person, interview, operator and days, and plain words for a bad form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from urllib.parse import quote

import pytest

import server as livehelp_server
from handlers import history
from state.config import Config
from state.livehelp.rules import client_key
from state.store.base import ChatMessage, SessionRecord, new_id
from tests import test_store_contract
from tests.conftest import LiveServer, serving
from tests.store_helpers import MOMENT

make_store = test_store_contract.make_store
OLGA = ("operator", "olga@example.org", "Olga", "Krause")
BOB = ("operator", "bob@example.org", "Bob", "Baker")
ADA = ("user", "ada@example.org", "Ada", "Lovelace")
ANONYMOUS = ("user", None, None, None)


@pytest.fixture
async def live_server(config: Config, make_store) -> AsyncIterator[LiveServer]:
    """The app on the store kind the contract fixture names."""
    async with serving(livehelp_server.make_services(config, store=make_store())) as server:
        yield server


@pytest.fixture
async def advocate_cookie(live_server: LiveServer) -> str:
    olga = await live_server.add_user("olga@example.org", ("advocate",), first_name="Olga",
                                      last_name="Krause")
    await live_server.add_user("bob@example.org", ("admin",), first_name="Bob")
    return await live_server.user_cookie(olga)


async def conversation(server: LiveServer, interview: str = "fruit") -> tuple[str, str]:
    """A stored session and the id of one browser's help conversation in it."""
    record = SessionRecord(id=new_id(), interview=interview)
    await server.services.store.save_session(record)
    return record.id, client_key(record.id, f"b:{new_id()}")


async def say(server: LiveServer, where: tuple[str, str], text: str, minutes: float,
              who: tuple = ANONYMOUS) -> None:
    role, email, first, last = who
    session_id, conversation_id = where
    await server.services.store.add_message(ChatMessage(
        conversation=conversation_id, session_id=session_id,
        sender_key=f"u:{email}" if email else conversation_id.split("|")[1],
        sender_role=role, text=text, client_id=new_id(), sender_email=email,
        sender_first_name=first, sender_last_name=last,
        time=MOMENT + timedelta(minutes=minutes)))


async def page(server: LiveServer, cookie: str, query: str = "", code: int = 200) -> str:
    response = await server.fetch(f"history{query}", cookie=cookie)
    assert response.code == code, response.body[:500]
    return response.body.decode()


def titles(body: str) -> list[str]:
    """The conversations listed, as their links read."""
    return [unescape(t) for t in re.findall(r'class="conversation-title"><a href="[^"]*">([^<]*)</a>', body)]


def link(body: str, name: str) -> str:
    [href] = re.findall(rf'<a href="([^"]*)"[^>]*>{name}</a>', body)
    return unescape(href)


async def test_conversations_are_listed_newest_first_with_who_and_how_many(
        live_server: LiveServer, advocate_cookie: str) -> None:
    older, newer = await conversation(live_server), await conversation(live_server, "peer")
    await say(live_server, older, "I am Ada", 0, ADA)
    await say(live_server, older, "Hello Ada", 1, OLGA)
    await say(live_server, newer, "anyone?", 5)
    body = await page(live_server, advocate_cookie, "?tz=UTC")
    assert titles(body)[0].startswith("Plan a meeting together · Visitor ")
    assert titles(body)[1] == "Fruit, vegetable and fungus · Ada Lovelace"
    assert "2 messages" in body and "Operators: Olga Krause" in body and "No operator wrote" in body
    assert "2024-05-06 07:13" in body  # newer's last message, in UTC
    quoted = quote(older[1], safe="")
    assert f'href="/history/{quoted}?tz=UTC"' in body


async def test_older_and_newer_pages_walk_the_whole_listing(
        live_server: LiveServer, advocate_cookie: str, monkeypatch) -> None:
    monkeypatch.setattr(history, "PAGE_SIZE", 2)
    for minute in range(5):
        await say(live_server, await conversation(live_server), f"message {minute}", minute,
                  ("user", f"p{minute}@example.org", f"Person{minute}", None))
    first = await page(live_server, advocate_cookie, "?tz=UTC&interview=fruit")
    assert titles(first) == ["Fruit, vegetable and fungus · Person4",
                             "Fruit, vegetable and fungus · Person3"]
    assert "Newer" not in first
    second = await page(live_server, advocate_cookie, link(first, "Older").removeprefix("/history"))
    third = await page(live_server, advocate_cookie, link(second, "Older").removeprefix("/history"))
    assert [t.rsplit(" ", 1)[1] for t in titles(second) + titles(third)] == [
        "Person2", "Person1", "Person0"]
    assert "Older" not in third and "interview=fruit" in link(third, "Newer")
    back = await page(live_server, advocate_cookie, link(third, "Newer").removeprefix("/history"))
    assert titles(back) == titles(second)
    assert titles(await page(live_server, advocate_cookie,
                             link(back, "Newer").removeprefix("/history"))) == titles(first)
    assert titles(await page(live_server, advocate_cookie,
                             link(third, "Newest").removeprefix("/history"))) == titles(first)


async def test_a_broken_page_link_is_refused_in_words(
        live_server: LiveServer, advocate_cookie: str) -> None:
    body = await page(live_server, advocate_cookie, "?before=not-a-cursor", code=400)
    assert "This page of the history does not exist" in body


async def test_a_search_hit_is_escaped_then_marked(live_server: LiveServer,
                                                   advocate_cookie: str) -> None:
    where = await conversation(live_server)
    await say(live_server, where, "<script>alert(1)</script> my landlord keeps the deposit", 0)
    await say(live_server, where, "unrelated", 1)
    body = await page(live_server, advocate_cookie, "?q=deposit+script&tz=UTC")
    [hit] = re.findall(r'<p class="hit-text">(.*?)</p>', body)
    assert hit == ("&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; my landlord"
                   " keeps the <mark>deposit</mark>")
    assert "<script>alert" not in body
    assert "1 message, the latest first." in body
    seq_link = re.search(r'<a href="([^"]*)">Open the transcript', body)[1]
    assert seq_link == f"/history/{quote(where[1], safe='')}?tz=UTC#m1"


def test_marks_typed_into_a_message_cannot_make_markup() -> None:
    assert str(history.marked_html("a <b>\x02c\x03 & d")) == "a &lt;b&gt;<mark>c</mark> &amp; d"


async def test_search_filters_by_person_interview_operator_and_days(
        live_server: LiveServer, advocate_cookie: str) -> None:
    ada, anon = await conversation(live_server), await conversation(live_server, "peer")
    await say(live_server, ada, "I am Ada", 0, ADA)
    await say(live_server, ada, "rent question", 1)
    await say(live_server, ada, "rent answer", 2, OLGA)
    await say(live_server, anon, "rent too", 60 * 24 * 3)  # three days later
    await say(live_server, anon, "rent, says Bob", 60 * 24 * 3 + 1, BOB)

    async def hits(query: str) -> list[str]:
        body = await page(live_server, advocate_cookie, f"?q=rent&tz=UTC{query}")
        return [re.sub("<[^>]+>", "", h) for h in re.findall(r'<p class="hit-text">(.*?)</p>', body)]

    assert await hits("") == ["rent, says Bob", "rent too", "rent answer", "rent question"]
    assert await hits("&person=LOVELACE") == ["rent answer", "rent question"]
    assert await hits("&interview=peer") == ["rent, says Bob", "rent too"]
    assert await hits("&operator=olga%40example.org") == ["rent answer", "rent question"]
    assert await hits("&from=2024-05-09") == ["rent, says Bob", "rent too"]
    assert await hits("&to=2024-05-06") == ["rent answer", "rent question"]
    # Days are the reader's: 2024-05-09 07:08 UTC is the evening of the 8th in Honolulu.
    assert await hits("&from=2024-05-08&to=2024-05-08&tz=Pacific/Honolulu") == [
        "rent, says Bob", "rent too"]
    assert await hits("&from=2024-05-09&to=2024-05-09&tz=Pacific/Honolulu") == []
    assert await hits("&from=2024-05-07&to=2024-05-08") == []


async def test_the_listing_filters_too(live_server: LiveServer, advocate_cookie: str) -> None:
    ada, anon = await conversation(live_server), await conversation(live_server, "peer")
    await say(live_server, ada, "I am Ada", 0, ADA)
    await say(live_server, anon, "hello", 1, BOB)
    body = await page(live_server, advocate_cookie, "?person=ada%40example&tz=UTC")
    assert titles(body) == ["Fruit, vegetable and fungus · Ada Lovelace"]
    body = await page(live_server, advocate_cookie, "?operator=bob%40example.org")
    assert [t.split(" · ")[0] for t in titles(body)] == ["Plan a meeting together"]
    body = await page(live_server, advocate_cookie, "?interview=chat_example")
    assert titles(body) == [] and "No conversation matches these filters." in body


@pytest.mark.parametrize(("query", "words"), [
    ("?from=2024-13-01", "“From” is not a date: write it as year-month-day"),
    ("?to=yesterday", "“To” is not a date"),
    ("?from=2024-05-09&to=2024-05-01",
     "“From” (2024-05-09) is after “To” (2024-05-01): no day is in between."),
    ("?q=%21%21%21", "“!!!” has no word to search for"),
])
async def test_a_bad_form_is_refused_in_plain_words(live_server: LiveServer, advocate_cookie: str,
                                                    query: str, words: str) -> None:
    body = await page(live_server, advocate_cookie, query, code=400)
    assert words in unescape(body)
    assert 'role="alert"' in body and 'aria-invalid="true"' in body


async def test_the_selects_offer_the_interviews_and_the_operator_accounts(
        live_server: LiveServer, advocate_cookie: str) -> None:
    await live_server.add_user("plain@example.org")
    body = await page(live_server, advocate_cookie, "?operator=olga%40example.org")
    assert '<option value="fruit" >Fruit, vegetable and fungus</option>' in body
    assert '<option value="olga@example.org" selected>Olga Krause (olga@example.org)</option>' in body
    assert 'value="bob@example.org"' in body and 'value="plain@example.org"' not in body


async def test_the_page_is_for_operators_only_and_not_for_a_demoted_one(
        live_server: LiveServer) -> None:
    where = await conversation(live_server)
    await say(live_server, where, "secret history", 0)
    assert (await live_server.fetch("history")).code == 302  # to the login page
    demoted = await live_server.add_user("demoted@example.org", ("advocate",))
    cookie = await live_server.user_cookie(demoted)
    assert (await live_server.fetch("history", cookie=cookie)).code == 200
    demoted.privileges = ["user"]
    await live_server.services.store.update_user(demoted)
    for path in ("history", f"history/{quote(where[1], safe='')}", "history?q=secret"):
        response = await live_server.fetch(path, cookie=cookie)
        assert response.code == 403 and b"secret history" not in response.body, path
