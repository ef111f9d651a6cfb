"""Server-side sign-ins (state/accounts/sign_in.py): lifetimes on a fake clock, random
ids stored as hashes, and the cookie ending with sign-out, a new password, a new
privilege and removal; the SQLite schema migration that adds them."""

from __future__ import annotations

import contextlib
import hashlib
import io
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from state.accounts import cli, sign_in, users
from state.store.base import SCHEMA_VERSION, Store, User
from state.store.sqlite import SQLiteStore
from tests.cli_helpers import no_prompt, parse
from tests.clock import FakeClock
from tests.conftest import LiveServer
from tests.test_auth_http import cookie_value, log_in, post_form

HOUR = 3600.0
DAY = 24 * HOUR
PASSWORD = "correct horse battery"


@dataclass
class Lifetime:
    idle_hours: float = 12.0
    max_days: float = 30.0


async def account(store: Store, email: str = "ann@example.org",
                  privilege: str = "advocate") -> User:
    return await users.create_account(store, email, PASSWORD, [privilege])


# lifetimes ---------------------------------------------------------------------------

async def test_a_sign_in_used_within_its_idle_time_lives_on(store: SQLiteStore) -> None:
    clock, lifetime = FakeClock(), Lifetime(idle_hours=12)
    user = await account(store)
    sign_in_id = await sign_in.create(store, user.id, clock)
    for _ in range(5):  # 5 x 11 hours: longer than the idle time, but never idle that long
        clock.advance(11 * HOUR)
        found = await sign_in.look_up(store, sign_in_id, lifetime, clock)
        assert found is not None and found[1] == user


async def test_an_idle_sign_in_ends_and_is_removed(store: SQLiteStore) -> None:
    clock, lifetime = FakeClock(), Lifetime(idle_hours=12)
    user = await account(store)
    sign_in_id = await sign_in.create(store, user.id, clock)
    clock.advance(12 * HOUR - 1)
    assert await sign_in.look_up(store, sign_in_id, lifetime, clock) is not None
    clock.advance(12 * HOUR)
    assert await sign_in.look_up(store, sign_in_id, lifetime, clock) is None
    assert await store.get_sign_ins([sign_in.hash_id(sign_in_id)]) == []


async def test_no_sign_in_outlives_max_days_however_often_used(store: SQLiteStore) -> None:
    clock, lifetime = FakeClock(), Lifetime(idle_hours=12, max_days=2)
    user = await account(store)
    sign_in_id = await sign_in.create(store, user.id, clock)
    for _ in range(47):  # used every hour for 47 hours
        clock.advance(HOUR)
        assert await sign_in.look_up(store, sign_in_id, lifetime, clock) is not None
    clock.advance(HOUR)
    assert await sign_in.look_up(store, sign_in_id, lifetime, clock) is None


async def test_last_seen_is_written_at_most_once_a_minute(store: SQLiteStore) -> None:
    clock, lifetime = FakeClock(), Lifetime()
    user = await account(store)
    sign_in_id = await sign_in.create(store, user.id, clock)
    id_hash = sign_in.hash_id(sign_in_id)
    (created,) = await store.get_sign_ins([id_hash])
    clock.advance(sign_in.TOUCH_SECONDS - 1)
    await sign_in.look_up(store, sign_in_id, lifetime, clock)
    assert (await store.get_sign_ins([id_hash]))[0].last_seen == created.last_seen
    clock.advance(1)
    await sign_in.look_up(store, sign_in_id, lifetime, clock)
    (touched,) = await store.get_sign_ins([id_hash])
    assert (touched.last_seen - created.last_seen).total_seconds() == sign_in.TOUCH_SECONDS


async def test_expired_sign_ins_are_removed_by_housekeeping(store: SQLiteStore) -> None:
    clock, lifetime = FakeClock(), Lifetime(idle_hours=1)
    user = await account(store)
    gone = await sign_in.create(store, user.id, clock)
    clock.advance(2 * HOUR)
    kept = await sign_in.create(store, user.id, clock)
    assert await sign_in.remove_expired(store, lifetime, clock) == 1
    hashes = [sign_in.hash_id(gone), sign_in.hash_id(kept)]
    assert [s.id_hash for s in await store.get_sign_ins(hashes)] == [sign_in.hash_id(kept)]


# ids ---------------------------------------------------------------------------------

async def test_ids_are_random_and_only_their_hashes_are_stored(tmp_path: Path) -> None:
    path = tmp_path / "ids.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    try:
        user = await account(store)
        ids = [await sign_in.create(store, user.id) for _ in range(20)]
    finally:
        await store.close()
    assert len(set(ids)) == 20
    assert all(len(sign_in_id) >= 43 for sign_in_id in ids)  # 32 random bytes, base64
    with contextlib.closing(sqlite3.connect(path)) as connection:
        stored = {row[0] for row in connection.execute("SELECT id_hash FROM sign_ins")}
    assert stored == {hashlib.sha256(sign_in_id.encode()).hexdigest() for sign_in_id in ids}
    everything = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert not any(sign_in_id.encode() in everything for sign_in_id in ids)


# the cookie, over HTTP -----------------------------------------------------------------

async def signed_in_cookie(server: LiveServer, email: str, privilege: str = "admin") -> str:
    """Sign in through the login form; the `lh_user` cookie it sets."""
    await server.add_user(email, (privilege,))
    response = await log_in(server, email)
    assert response.code == 302
    return f"lh_user={cookie_value(response, 'lh_user')}"


async def is_signed_in(server: LiveServer, cookie: str) -> bool:
    """The logout page names who is signed in; a cookie that names nobody gets "signed out"."""
    page = (await server.fetch("logout", cookie=cookie)).body.decode()
    return "You are signed in as" in page


async def test_every_sign_in_gets_a_new_cookie(live_server: LiveServer) -> None:
    first = await signed_in_cookie(live_server, "ann@example.org")
    second = f"lh_user={cookie_value(await log_in(live_server, 'ann@example.org'), 'lh_user')}"
    assert first != second
    assert await is_signed_in(live_server, first) and await is_signed_in(live_server, second)


async def test_sign_out_ends_the_cookie(live_server: LiveServer) -> None:
    cookie = await signed_in_cookie(live_server, "ann@example.org")
    second_login = await log_in(live_server, "ann@example.org")
    other_browser = f"lh_user={cookie_value(second_login, 'lh_user')}"
    assert (await live_server.fetch("admin/users", cookie=cookie)).code == 200
    assert (await post_form(live_server, "logout", {}, cookie=cookie)).code == 302
    # The same cookie, kept by someone who copied it, now gets the login page.
    again = await live_server.fetch("admin/users", cookie=cookie)
    assert again.code == 302 and again.headers["Location"].startswith("/login")
    assert await is_signed_in(live_server, other_browser)  # only that browser signed out


async def test_set_password_on_the_command_line_ends_the_cookie(
        live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    cookie = await signed_in_cookie(live_server, "ann@example.org")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a brand new password\n"))
    args = parse("user", "set-password", "ann@example.org", "--password-stdin")
    assert await cli.run_user_command(live_server.services.store, args, no_prompt) == 0
    assert not await is_signed_in(live_server, cookie)
    assert (await log_in(live_server, "ann@example.org", "a brand new password")).code == 302


@pytest.mark.parametrize("privilege", ["advocate", "admin"])
async def test_set_privilege_on_the_command_line_ends_the_cookie(
        live_server: LiveServer, privilege: str) -> None:
    await live_server.add_user("boss@example.org", ("admin",))
    cookie = await signed_in_cookie(live_server, "ann@example.org", "user")
    args = parse("user", "set-privilege", "ann@example.org", privilege)
    assert await cli.run_user_command(live_server.services.store, args, no_prompt) == 0
    assert not await is_signed_in(live_server, cookie)


async def test_privilege_change_on_the_admin_page_ends_the_cookie(
        live_server: LiveServer) -> None:
    admin = await signed_in_cookie(live_server, "boss@example.org")
    cookie = await signed_in_cookie(live_server, "ann@example.org", "advocate")
    ann = await live_server.services.store.get_user_by_email("ann@example.org")
    response = await post_form(live_server, "admin/users", {
        "action": "set-privilege", "user_id": ann.id, "privilege": "user"}, cookie=admin)
    assert response.code == 200 and "ann@example.org is now user." in response.body.decode()
    assert not await is_signed_in(live_server, cookie)
    assert await is_signed_in(live_server, admin)


async def test_an_admin_who_changes_their_own_privilege_stays_signed_in_anew(
        live_server: LiveServer) -> None:
    await live_server.add_user("other-admin@example.org", ("admin",))
    cookie = await signed_in_cookie(live_server, "boss@example.org")
    boss = await live_server.services.store.get_user_by_email("boss@example.org")
    response = await post_form(live_server, "admin/users", {
        "action": "set-privilege", "user_id": boss.id, "privilege": "advocate"}, cookie=cookie)
    assert response.code == 302  # no longer an admin: sent to the interviews
    fresh = f"lh_user={cookie_value(response, 'lh_user')}"
    assert not await is_signed_in(live_server, cookie)
    assert await is_signed_in(live_server, fresh)
    assert (await live_server.fetch("monitor", cookie=fresh)).code == 200


async def test_remove_on_the_command_line_ends_the_cookie_and_refuses_the_last_admin(
        live_server: LiveServer, capsys: pytest.CaptureFixture) -> None:
    store = live_server.services.store
    admin = await signed_in_cookie(live_server, "boss@example.org")
    cookie = await signed_in_cookie(live_server, "ann@example.org", "advocate")
    assert await cli.run_user_command(store, parse("user", "remove", "ann@example.org"),
                                      no_prompt) == 0
    assert await store.get_user_by_email("ann@example.org") is None
    assert not await is_signed_in(live_server, cookie)
    assert await cli.run_user_command(store, parse("user", "remove", "boss@example.org"),
                                      no_prompt) == 1
    assert "only administrator" in capsys.readouterr().err
    assert await is_signed_in(live_server, admin)
    assert [e.action for e in await store.list_audit()][:1] == ["remove user"]


# the schema ----------------------------------------------------------------------------

async def test_a_version_2_file_gains_sign_ins(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    user = await account(store)
    await store.close()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.executescript("DROP TABLE sign_ins; PRAGMA user_version = 2;"
                                 " ALTER TABLE operator_settings DROP COLUMN capacity;")
    store = SQLiteStore(path)
    await store.open()
    try:
        assert await store.get_user(user.id) == user
        sign_in_id = await sign_in.create(store, user.id)
        assert await sign_in.look_up(store, sign_in_id, Lifetime()) is not None
    finally:
        await store.close()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7
