"""The interview pages over HTTP against a running server (tests/conftest.py `live_server`)."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime
from http.cookies import SimpleCookie

import tornado.httpclient
import tornado.web

from state.store.base import ChatMessage, SessionRecord, StoreUnavailable
from tests.socket_helpers import interviewee, operator

XSRF_INPUT = re.compile(r'name="_xsrf" value="([^"]+)"')


class Browser:
    """Keeps cookies between requests like a browser, and posts forms with their XSRF token."""

    def __init__(self, live_server, cookies: dict[str, str] | None = None) -> None:
        self.server = live_server
        self.cookies: dict[str, str] = dict(cookies or {})
        self.xsrf = ""

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def _keep(self, response: tornado.httpclient.HTTPResponse) -> None:
        for header in response.headers.get_list("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        found = XSRF_INPUT.search(response.body.decode())
        if found:
            self.xsrf = html.unescape(found.group(1))

    async def get(self, path: str) -> tornado.httpclient.HTTPResponse:
        response = await self.server.fetch(path, cookie=self.cookie_header)
        self._keep(response)
        return response

    async def post(self, path: str, form: dict, xsrf: bool = True) -> tornado.httpclient.HTTPResponse:
        body = {"_xsrf": self.xsrf, **form} if xsrf else form
        response = await self.server.fetch(path, method="POST", body=body,
                                           cookie=self.cookie_header)
        self._keep(response)
        return response

    async def follow(self, response: tornado.httpclient.HTTPResponse):
        """GET the page a redirect points to."""
        assert response.code in (302, 303), response.code
        location = response.headers["Location"]
        return await self.get(location.removeprefix(self.server.root))


async def operator_browser(live_server) -> Browser:
    account = await live_server.add_user("op@example.com", ("advocate",))
    cookie = await live_server.user_cookie(account)
    return Browser(live_server, {"lh_user": cookie.split("=", 1)[1]})


def text(response: tornado.httpclient.HTTPResponse) -> str:
    return response.body.decode()


def session_id(response: tornado.httpclient.HTTPResponse) -> str:
    return re.search(r'data-session="([^"]+)"', text(response)).group(1)


async def test_index_lists_the_demo_interviews(live_server) -> None:
    response = await live_server.fetch("")
    assert response.code == 200
    for title in ("Family support questionnaire", "Live chat status",
                  "Fruit, vegetable and fungus", "Plan a meeting together"):
        assert html.escape(title) in text(response)
    assert 'href="/interview/fruit"' in text(response)


async def test_unknown_interview_is_a_404_page(live_server) -> None:
    response = await live_server.fetch("interview/no-such-thing")
    assert response.code == 404
    assert "Not found" in text(response) and "no-such-thing" in text(response)


async def test_unknown_path_is_a_404_page(live_server) -> None:
    response = await live_server.fetch("nowhere/at/all")
    assert response.code == 404 and "Not found" in text(response)


async def test_start_submit_and_reload_shows_the_same_screen(live_server) -> None:
    browser = Browser(live_server)
    first = await browser.get("interview/fruit")
    assert first.code == 200 and "Your favourite foods" in text(first)
    moved = await browser.post("interview/fruit", {"_screen": "welcome", "_action": "continue"})
    page = await browser.follow(moved)
    assert "What is your favorite fruit?" in text(page)
    again = await browser.get("interview/fruit")
    assert "What is your favorite fruit?" in text(again)
    assert session_id(again) == session_id(first)


async def test_answers_are_saved_in_the_store(live_server) -> None:
    browser = Browser(live_server)
    sid = session_id(await browser.get("interview/fruit"))
    await browser.post("interview/fruit", {"_screen": "welcome"})
    await browser.post("interview/fruit", {"_screen": "fruit", "fruit": "Mango"})
    record = await live_server.services.store.get_session(sid)
    assert record.answers["fruit"] == "Mango"
    assert record.live_help["availability"] == "available"
    assert "fruit" in record.progress["done"]


async def test_missing_required_field_shows_the_error_and_keeps_typed_values(live_server) -> None:
    browser = Browser(live_server)
    await browser.get("interview/peer")
    await browser.post("interview/peer", {"_screen": "welcome"})
    response = await browser.post("interview/peer", {
        "_screen": "meeting", "topic": "Budget <2027>", "meeting_date": "", "people": "4"})
    assert response.code == 422
    page = text(response)
    assert "What is the meeting about?" in page
    assert 'id="error-meeting_date"' in page and 'aria-describedby="error-meeting_date"' in page
    assert 'value="Budget &lt;2027&gt;"' in page and 'value="4"' in page


async def test_post_without_xsrf_is_refused(live_server) -> None:
    browser = Browser(live_server)
    await browser.get("interview/fruit")
    response = await browser.post("interview/fruit", {"_screen": "welcome"}, xsrf=False)
    assert response.code == 403


async def test_share_link_grants_the_session_to_another_browser(live_server) -> None:
    owner = Browser(live_server)
    sid = session_id(await owner.get("interview/peer"))
    assert f"share/{sid}" in text(await owner.get("interview/peer"))
    guest = Browser(live_server)
    joined = await guest.get(f"share/{sid}")
    assert joined.code == 302
    page = await guest.follow(joined)
    assert session_id(page) == sid


async def test_share_link_of_unknown_session_is_404(live_server) -> None:
    response = await live_server.fetch("share/not-a-session")
    assert response.code == 404


async def test_share_link_of_single_user_interview_is_for_operators_only(live_server) -> None:
    sid = session_id(await Browser(live_server).get("interview/fruit"))
    assert (await Browser(live_server).get(f"share/{sid}")).code == 403
    assert (await Browser(live_server).post(f"share/{sid}", {})).code == 403
    operator = await operator_browser(live_server)
    assert (await operator.get(f"share/{sid}")).code == 200


async def test_operator_join_is_confirmed_by_a_post_and_audited(live_server) -> None:
    """Joining somebody's session is audited, so a link alone (GET: what another site
    can make a browser do) only shows the operator a confirmation; the POST joins."""
    sid = session_id(await Browser(live_server).get("interview/fruit"))
    operator = await operator_browser(live_server)
    page = await operator.get(f"share/{sid}")
    assert "Join this session?" in text(page) and 'name="_xsrf"' in text(page)
    assert await live_server.services.store.list_audit() == []
    assert (await operator.post(f"share/{sid}", {}, xsrf=False)).code == 403
    joined = await operator.post(f"share/{sid}", {})
    assert joined.code == 303 and joined.headers["Location"].endswith("interview/fruit")
    [entry] = await live_server.services.store.list_audit()
    assert (entry.action, entry.session_id, entry.actor_email) == ("join", sid, "op@example.com")


async def test_operator_joining_sees_the_back_door_screen(live_server) -> None:
    user = Browser(live_server)
    sid = session_id(await user.get("interview/fruit"))
    await user.post("interview/fruit", {"_screen": "welcome"})
    await user.post("interview/fruit", {"_screen": "fruit", "fruit": "Fig <3"})
    operator = await operator_browser(live_server)
    await operator.get(f"share/{sid}")
    page = await operator.follow(await operator.post(f"share/{sid}", {}))
    assert "Summary of the user&#39;s answers so far" in text(page)
    assert "The favorite fruit was Fig &lt;3." in text(page)
    assert ">Refresh</button>" in text(page)


async def test_tampered_session_cookie_starts_a_new_session(live_server) -> None:
    browser = Browser(live_server)
    sid = session_id(await browser.get("interview/fruit"))
    browser.cookies["lh_sessions"] = browser.cookies["lh_sessions"][:-3] + "abc"
    other = session_id(await browser.get("interview/fruit"))
    assert other != sid


async def test_restart_starts_a_new_session(live_server) -> None:
    browser = Browser(live_server)
    sid = session_id(await browser.get("interview/fruit"))
    await browser.post("interview/fruit", {"_screen": "welcome"})
    page = await browser.follow(await browser.post("interview/fruit/restart", {}))
    assert session_id(page) != sid and "Your favourite foods" in text(page)


async def test_signed_in_interviewee_owns_the_session(live_server) -> None:
    account = await live_server.add_user("ann@example.com")
    response = await live_server.fetch("interview/fruit", cookie=await live_server.user_cookie(account))
    record: SessionRecord = await live_server.services.store.get_session(session_id(response))
    assert record.owner_id == account.id


async def test_live_help_partials_only_when_live_help_is_on(live_server) -> None:
    browser = Browser(live_server)
    first = text(await browser.get("interview/chat_example"))
    assert 'data-live-help="unavailable"' in first and 'id="lh-chat"' not in first
    page = await browser.follow(await browser.post(
        "interview/chat_example", {"_screen": "consent", "consent": "yes"}))
    assert 'data-live-help="available"' in text(page)
    assert 'id="help-panel"' in text(page) and 'id="lh-chat"' in text(page)


async def test_store_down_gives_503_and_grants_nothing(live_server, monkeypatch) -> None:
    store = live_server.services.store

    async def unavailable(record: SessionRecord) -> None:
        raise StoreUnavailable("database went away")

    monkeypatch.setattr(store, "save_session", unavailable)
    browser = Browser(live_server)
    response = await browser.get("interview/fruit")
    assert response.code == 503 and "not reachable" in text(response)
    assert "lh_sessions" not in browser.cookies
    assert live_server.services.livehelp.figures()["clients"] == 0


async def test_failed_submission_saves_nothing(live_server, monkeypatch) -> None:
    browser = Browser(live_server)
    sid = session_id(await browser.get("interview/fruit"))
    store = live_server.services.store

    async def unavailable(record: SessionRecord) -> None:
        raise StoreUnavailable("database went away")

    monkeypatch.setattr(store, "save_session", unavailable)
    response = await browser.post("interview/fruit", {"_screen": "welcome"})
    assert response.code == 503
    monkeypatch.undo()
    record = await store.get_session(sid)
    assert record.progress.get("done", []) == []
    page = await browser.get("interview/fruit")
    assert "Your favourite foods" in text(page)


async def test_an_interview_shows_its_chat_log_through_get_chat_log(live_server) -> None:
    browser = Browser(live_server)
    record = await live_server.services.store.get_session(
        session_id(await browser.get("interview/chat_example")))
    record.answers.update(consent=True, support_types=["Spousal Support"], first_name="Ann",
                          email="ann@example.com", birth_date="1990-01-01", situation="",
                          password="")
    record.live_help = {"availability": "available", "mode": "help",
                        "partner_roles": ["advocate"]}
    record.progress["done"] = ["consent", "support", "about-you", "situation", "save-password",
                              "review"]
    await live_server.services.store.save_session(record)
    browser_id = tornado.web.decode_signed_value(
        live_server.app.settings["cookie_secret"], "lh_browser", browser.cookies["lh_browser"])
    await live_server.services.store.add_message(ChatMessage(
        conversation=f"{record.id}|b:{browser_id.decode()}", session_id=record.id,
        sender_key="u:op", sender_role="operator", text="See you <soon>", client_id="o1",
        time=datetime(2026, 1, 5, 15, 4, tzinfo=UTC)))
    page = text(await browser.get("interview/chat_example"))
    assert "Thank you, Ann" in page
    assert "Your chat so far has\n1 message; the last one, at\n15:04 UTC" in page
    assert 'said: "See you &lt;soon&gt;"' in page  # the sandbox escapes what people typed


async def test_a_block_and_an_answer_given_at_the_same_moment_both_stay(
        live_server, monkeypatch) -> None:
    """Saves replace the whole session record. The answer's read of the record is held
    until the block has started, so that both would start from the same stored record;
    with one lock per session the second reads what the first saved."""
    user = Browser(live_server)
    sid = session_id(await user.get("interview/fruit"))
    await user.post("interview/fruit", {"_screen": "welcome"})
    await user.get("interview/fruit")  # runs the code that turns live help on
    store = live_server.services.store
    interviewee_socket = await interviewee(live_server, await store.get_session(sid))
    op = await operator(live_server)
    key = next(iter(live_server.services.livehelp.find_session(sid).clients))
    read, locks = store.get_session, live_server.services.livehelp.record_locks
    hold = locks.hold
    answer_read, block_arrived = asyncio.Event(), asyncio.Event()

    async def held_read(session_id: str) -> SessionRecord | None:
        """The answer's read returns only once the block has got as far as it can: to
        the lock the answer holds, or (without one) to its own read of the record."""
        if session_id != sid:
            return await read(session_id)
        if answer_read.is_set():
            block_arrived.set()
            return await read(session_id)
        found = await read(session_id)
        answer_read.set()
        await asyncio.wait_for(block_arrived.wait(), 10)
        return found

    def watched_hold(session_id: str):
        if session_id == sid and answer_read.is_set():
            block_arrived.set()  # the block asks for the lock
        return hold(session_id)

    monkeypatch.setattr(store, "get_session", held_read)
    monkeypatch.setattr(locks, "hold", watched_hold)
    answer = asyncio.ensure_future(user.post("interview/fruit", {"_screen": "fruit",
                                                                 "fruit": "Apple"}))
    await asyncio.wait_for(answer_read.wait(), 10)
    await op.send(type="block", session=key)
    assert (await answer).code == 303
    await op.until("session", lambda m: m["session"]["blocked"])
    stored = await read(sid)
    assert stored.answers.get("fruit") == "Apple" and stored.blocked
    assert len(live_server.services.livehelp.record_locks) == 0  # nothing left behind
    interviewee_socket.close()
