"""Security-matrix rows for rights that end: a demoted operator's open Monitor, a
signed-out cookie, a changed password, changes made by another process (found by the
periodic rights check, driven here directly: no wall clock), and the smaller items:
the SQLite file is the owner's only, `_xsrf` is Secure over https, and /register does
not tell which emails have accounts."""

from __future__ import annotations

import io
import os
import re
import stat
import sys
from pathlib import Path

import pytest
import tornado.httpclient
import tornado.websocket

import server as livehelp_server
from handlers import rights
from handlers.socket_registry import CLOSE_RIGHTS_REMOVED, CLOSE_SIGNED_OUT
from state.accounts import cli, sign_in, users
from state.config import Config
from state.store.base import StoreUnavailable, User, new_id
from state.store.sqlite import SQLiteStore
from tests.cli_helpers import no_prompt, parse
from tests.conftest import LiveServer, serving
from tests.frames import next_message
from tests.socket_helpers import Person, chatting, operator
from tests.test_auth_http import cookie_value, log_in, post_form, set_cookies

SIGNED_OUT = (CLOSE_SIGNED_OUT, "You were signed out.")
RIGHTS_REMOVED = (CLOSE_RIGHTS_REMOVED, "Your operator rights were removed.")
SENTINEL = "zz_sentinel"  # an unknown type: its refusal comes after anything queued before


def rights_check(server: LiveServer) -> rights.RightsCheck:
    """The periodic job of `server`, to run by hand."""
    return rights.RightsCheck(server.services.store, server.services.config.sign_in,
                              server.services.sockets)


async def until_closed(ws: tornado.websocket.WebSocketClientConnection) -> list[dict]:
    """Every message until the server closes `ws`."""
    received = []
    while (message := await next_message(ws)) is not None:
        received.append(message)
    return received


def closed_with(ws: tornado.websocket.WebSocketClientConnection) -> tuple[int, str]:
    return ws.close_code, ws.close_reason


async def still_open(person: Person) -> bool:
    """The socket answers a sentinel: it was open and is handled as before."""
    await person.send(type=SENTINEL)
    while (message := await person.receive()).get("ref") != SENTINEL:
        pass
    return message["type"] == "error"


async def monitor_with(server: LiveServer, cookie: str) -> Person:
    person = Person(await server.websocket("ws/monitor", cookie))
    await person.receive("monitor")
    return person


async def refused_upgrade(server: LiveServer, cookie: str) -> int:
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await server.websocket("ws/monitor", cookie)
    return refused.value.code


async def login_cookie(server: LiveServer, email: str, password: str = "correct horse battery",
                       ) -> str:
    response = await log_in(server, email, password)
    assert response.code == 302
    return f"lh_user={cookie_value(response, 'lh_user')}"


# a demoted operator ----------------------------------------------------------------------

async def test_a_demoted_operators_open_monitor_is_closed_and_gets_no_more_chat(
        live_server: LiveServer) -> None:
    _record, user, olga, _entry = await chatting(live_server)
    sentinel = await operator(live_server, "sam@example.org", first_name="Sam")
    admin = await live_server.add_user("boss@example.org", ("admin",))
    response = await post_form(live_server, "admin/users", {
        "action": "set-privilege", "user_id": olga.user.id, "privilege": "user"},
        cookie=await live_server.user_cookie(admin))
    assert response.code == 200
    before_close = await until_closed(olga.ws)
    assert closed_with(olga.ws) == RIGHTS_REMOVED
    await user.send(type="chat", client_id="after", text="said after the demotion")
    # Sam, still an operator, gets it: whatever reached Olga's socket would have come by now.
    await sentinel.until("chat", lambda m: m["text"] == "said after the demotion")
    assert not [m for m in before_close if m.get("type") == "chat"]
    assert live_server.app.settings["sockets"].of_account(olga.user.id) == []
    assert await refused_upgrade(live_server, await live_server.user_cookie(olga.user)) == 403


async def test_a_demotion_in_another_process_closes_the_monitor_at_the_next_check(
        live_server: LiveServer) -> None:
    olga = await operator(live_server)
    await live_server.add_user("boss@example.org", ("admin",))
    args = parse("user", "set-privilege", olga.user.email, "user")
    # The command changes the store only, as from another process; the socket stays...
    assert await cli.run_user_command(live_server.services.store, args, no_prompt) == 0
    assert await still_open(olga)
    # ...until the periodic job's next run.
    await rights_check(live_server).run()
    await until_closed(olga.ws)
    assert closed_with(olga.ws) == RIGHTS_REMOVED


# a signed-out cookie ---------------------------------------------------------------------

async def test_sign_out_closes_that_browsers_socket_and_its_cookie_opens_nothing(
        live_server: LiveServer) -> None:
    await live_server.add_user("ann@example.org", ("advocate",))
    cookie = await login_cookie(live_server, "ann@example.org")
    other_browser = await monitor_with(live_server, await login_cookie(live_server,
                                                                       "ann@example.org"))
    monitor = await monitor_with(live_server, cookie)
    assert (await post_form(live_server, "logout", {}, cookie=cookie)).code == 302
    await until_closed(monitor.ws)
    assert closed_with(monitor.ws) == SIGNED_OUT
    page = await live_server.fetch("monitor", cookie=cookie)
    assert page.code == 302 and page.headers["Location"].startswith("/login")
    assert await refused_upgrade(live_server, cookie) == 403
    assert await still_open(other_browser)  # the same account in another browser


async def test_signing_in_as_someone_else_signs_the_browser_out_first(
        live_server: LiveServer) -> None:
    await live_server.add_user("ann@example.org", ("advocate",))
    await live_server.add_user("bob@example.org", ("advocate",))
    ann_cookie = await login_cookie(live_server, "ann@example.org")
    anns_monitor = await monitor_with(live_server, ann_cookie)
    response = await post_form(live_server, "login", {
        "email": "bob@example.org", "password": "correct horse battery"}, cookie=ann_cookie)
    assert response.code == 302
    await until_closed(anns_monitor.ws)
    assert closed_with(anns_monitor.ws) == SIGNED_OUT
    assert await refused_upgrade(live_server, ann_cookie) == 403


async def test_a_sign_in_ended_in_another_process_closes_only_its_sockets(
        live_server: LiveServer) -> None:
    store = live_server.services.store
    ann = await live_server.add_user("ann@example.org", ("advocate",))
    ended_id, kept_id = [await sign_in.create(store, ann.id) for _ in range(2)]
    ended = await monitor_with(live_server, live_server.cookie_for("lh_user", ended_id))
    kept = await monitor_with(live_server, live_server.cookie_for("lh_user", kept_id))
    await store.delete_sign_ins([sign_in.hash_id(ended_id)])  # as another process would
    await rights_check(live_server).run()
    await until_closed(ended.ws)
    assert closed_with(ended.ws) == SIGNED_OUT
    assert await still_open(kept)


# a changed password ----------------------------------------------------------------------

async def test_a_changed_password_refuses_the_old_cookie_and_closes_its_socket(
        live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    await live_server.add_user("ann@example.org", ("advocate",))
    cookie = await login_cookie(live_server, "ann@example.org")
    monitor = await monitor_with(live_server, cookie)
    monkeypatch.setattr(sys, "stdin", io.StringIO("another long password\n"))
    args = parse("user", "set-password", "ann@example.org", "--password-stdin")
    assert await cli.run_user_command(live_server.services.store, args, no_prompt) == 0
    page = await live_server.fetch("monitor", cookie=cookie)
    assert page.code == 302 and page.headers["Location"].startswith("/login")
    assert await refused_upgrade(live_server, cookie) == 403
    await rights_check(live_server).run()
    await until_closed(monitor.ws)
    assert closed_with(monitor.ws) == SIGNED_OUT


async def test_a_removed_account_is_signed_out_of_its_sockets(live_server: LiveServer) -> None:
    olga = await operator(live_server)
    await live_server.add_user("boss@example.org", ("admin",))
    args = parse("user", "remove", olga.user.email)
    assert await cli.run_user_command(live_server.services.store, args, no_prompt) == 0
    await rights_check(live_server).run()
    await until_closed(olga.ws)
    assert closed_with(olga.ws) == SIGNED_OUT


async def test_an_unreachable_store_closes_nothing(live_server: LiveServer) -> None:
    olga = await operator(live_server)
    await live_server.services.store.delete_user_sign_ins(olga.user.id)

    class Down:
        async def get_sign_ins(self, id_hashes: list[str]) -> list:
            raise StoreUnavailable("down for the test")

    check = rights.RightsCheck(Down(), live_server.services.config.sign_in,
                               live_server.services.sockets)
    assert await check.run() == 0
    assert await still_open(olga)


# the smaller items -----------------------------------------------------------------------

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_sqlite_file_and_its_wal_and_shm_are_the_owners_only(tmp_path: Path) -> None:
    new = tmp_path / "new.sqlite3"
    old = tmp_path / "old.sqlite3"
    for path in (old, old.with_name(old.name + "-wal"), old.with_name(old.name + "-shm")):
        path.touch()
        os.chmod(path, 0o644)  # as a version before this one left them
    for path in (new, old):
        store = SQLiteStore(path)
        await store.open()
        try:
            await store.create_user(User(id=new_id(), email=f"{path.stem}@x.org",
                                         password_hash="h"))
            files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
            assert all(p.exists() for p in files)
            assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        finally:
            await store.close()


async def xsrf_header(server: LiveServer, headers: dict | None = None) -> str:
    response = await server.fetch("login", headers=headers)
    return next(h for h in response.headers.get_list("Set-Cookie") if h.startswith("_xsrf="))


async def test_the_xsrf_cookie_is_secure_over_https_only(tmp_path: Path) -> None:
    config = Config(behind_https_load_balancer=True, port=0, data_dir=tmp_path / "data")
    async with serving(livehelp_server.make_services(config)) as server:
        over_https = await xsrf_header(server, {"X-Forwarded-Proto": "https"})
        over_http = await xsrf_header(server, {"X-Forwarded-Proto": "http"})
    assert "secure" in {part.strip().lower() for part in over_https.split(";")}
    assert "secure" not in over_http.lower()


def without_tokens(body: str) -> str:
    """A page with its one-time parts (the XSRF token) taken out."""
    return re.sub(r'name="_xsrf" value="[^"]+"', "", body)


async def test_register_answers_the_same_for_a_taken_email(live_server: LiveServer) -> None:
    live_server.services.config.allow_registration = True
    await live_server.add_user("ann@example.org", ("advocate",), first_name="Ann")
    answers = {}
    for email in ("ann@example.org", "new@example.org"):
        response = await post_form(live_server, "register", {
            "email": email, "first_name": "Eve", "last_name": "", "password": "eves password",
            "password_again": "eves password"})
        answers[email] = (response.code, sorted(set_cookies(response)),
                          without_tokens(response.body.decode()).replace(email, "EMAIL"))
    assert answers["ann@example.org"] == answers["new@example.org"]
    assert answers["new@example.org"][0] == 200 and "lh_user" not in answers["new@example.org"][1]
    # The existing account is unchanged: its own password, its name; the new one works.
    store = live_server.services.store
    ann = await store.get_user_by_email("ann@example.org")
    assert (ann.first_name, ann.privileges) == ("Ann", ["advocate"])
    assert await users.find_user_password(store, "ann@example.org", "correct horse battery")
    assert not await users.find_user_password(store, "ann@example.org", "eves password")
    assert await users.find_user_password(store, "new@example.org", "eves password")
    assert "If EMAIL had no account here, it has one now" in answers["new@example.org"][2]
