"""Accounts without a server: hashing, validation, the first admin, the throttle, the CLI."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from state.accounts import cli, users
from state.accounts.throttle import LoginThrottle
from state.store.sqlite import SQLiteStore
from tests.cli_helpers import no_prompt, parse
from tests.clock import FakeClock

PASSWORD = "correct horse battery"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """A fresh, open SQLite store in a temp dir."""
    sqlite = SQLiteStore(tmp_path / "accounts.sqlite3")
    await sqlite.open()
    try:
        yield sqlite
    finally:
        await sqlite.close()


# hashing ------------------------------------------------------------------

def test_hash_verifies_only_the_same_password() -> None:
    hashed = users.hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$")
    assert PASSWORD not in hashed
    assert users.verify_password(hashed, PASSWORD)
    assert not users.verify_password(hashed, PASSWORD + "!")


def test_same_password_hashes_differently_each_time() -> None:
    assert users.hash_password(PASSWORD) != users.hash_password(PASSWORD)


@pytest.mark.parametrize("bad_hash", ["", "not a hash", "$argon2id$v=19$garbage", "$2b$12$abc"])
def test_verify_is_false_for_a_malformed_hash(bad_hash: str) -> None:
    assert users.verify_password(bad_hash, PASSWORD) is False


# create_account -------------------------------------------------------------

async def test_create_account_stores_a_hash_and_names(store: SQLiteStore) -> None:
    user = await users.create_account(store, " Ann@Example.org ", PASSWORD, ["advocate"],
                                         "Ann", "Lee")
    stored = await store.get_user_by_email("ann@example.org")
    assert stored is not None and stored.id == user.id
    assert stored.email == "ann@example.org"
    assert (stored.first_name, stored.last_name, stored.privileges) == ("Ann", "Lee", ["advocate"])
    assert users.verify_password(stored.password_hash, PASSWORD)


@pytest.mark.parametrize("email", ["", "no-at-sign", "two@@signs", "spa ce@example.org", "@x", "x@"])
async def test_create_account_refuses_a_malformed_email(store: SQLiteStore, email: str) -> None:
    with pytest.raises(ValueError, match="(?i)email"):
        await users.create_account(store, email, PASSWORD, ["user"])


async def test_create_account_accepts_a_dotless_domain(store: SQLiteStore) -> None:
    user = await users.create_account(store, "ops@localhost", PASSWORD, ["user"])
    assert user.email == "ops@localhost"


async def test_create_account_refuses_a_short_password(store: SQLiteStore) -> None:
    with pytest.raises(ValueError, match="at least 8 characters"):
        await users.create_account(store, "a@example.org", "1234567", ["user"])
    assert await store.list_users() == []


@pytest.mark.parametrize("privileges", [[], ["root"], ["user", "superuser"]])
async def test_create_account_refuses_unknown_or_missing_privileges(
        store: SQLiteStore, privileges: list[str]) -> None:
    with pytest.raises(ValueError, match="(?i)privilege"):
        await users.create_account(store, "a@example.org", PASSWORD, privileges)


async def test_create_account_refuses_a_taken_email_in_any_case(store: SQLiteStore) -> None:
    await users.create_account(store, "a@example.org", PASSWORD, ["user"])
    with pytest.raises(ValueError, match="already exists"):
        await users.create_account(store, "A@Example.ORG", PASSWORD, ["user"])


async def test_find_user_password_needs_both_right(store: SQLiteStore) -> None:
    user = await users.create_account(store, "a@example.org", PASSWORD, ["user"])
    found = await users.find_user_password(store, "A@example.org", PASSWORD)
    assert found is not None and found.id == user.id
    assert await users.find_user_password(store, "a@example.org", "wrong password") is None
    assert await users.find_user_password(store, "b@example.org", PASSWORD) is None
    assert await users.find_user_password(store, "not an email", PASSWORD) is None


# first admin -----------------------------------------------------------------

async def test_first_admin_is_created_once_with_a_working_password(store: SQLiteStore) -> None:
    password = await users.ensure_first_admin(store)
    assert password and len(password) >= users.MIN_PASSWORD_LENGTH
    admin = await users.find_user_password(store, users.FIRST_ADMIN_EMAIL, password)
    assert admin is not None and admin.is_admin
    assert await users.ensure_first_admin(store) is None
    assert len(await store.list_users()) == 1


async def test_no_first_admin_when_an_admin_exists(store: SQLiteStore) -> None:
    await users.create_account(store, "boss@example.org", PASSWORD, ["admin"])
    assert await users.ensure_first_admin(store) is None
    assert await store.get_user_by_email(users.FIRST_ADMIN_EMAIL) is None


async def test_first_admin_ignores_operators_without_admin(store: SQLiteStore) -> None:
    await users.create_account(store, "helper@example.org", PASSWORD, ["advocate"])
    assert await users.ensure_first_admin(store) is not None


# throttle ------------------------------------------------------------------

def fail(throttle: LoginThrottle, times: int, email: str = "a@example.org",
         ip: str = "10.0.0.1") -> None:
    for _ in range(times):
        throttle.record_failure(email, ip)


def test_throttle_allows_five_failures_freely() -> None:
    throttle = LoginThrottle(clock=FakeClock())
    fail(throttle, 4)
    assert throttle.retry_after("a@example.org", "10.0.0.1") == 0
    fail(throttle, 1)
    assert throttle.retry_after("a@example.org", "10.0.0.1") > 0


def test_throttle_backoff_grows_and_expires() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    fail(throttle, 5)
    first = throttle.retry_after("a@example.org", "10.0.0.1")
    fail(throttle, 1)
    second = throttle.retry_after("a@example.org", "10.0.0.1")
    assert second > first > 0
    clock.now += second
    assert throttle.retry_after("a@example.org", "10.0.0.1") == 0


def test_throttle_delay_is_capped() -> None:
    throttle = LoginThrottle(clock=FakeClock(), max_delay=300)
    fail(throttle, 200)
    assert throttle.retry_after("a@example.org", "10.0.0.1") == 300


def test_throttle_counts_per_email_across_addresses() -> None:
    throttle = LoginThrottle(clock=FakeClock())
    for n in range(5):
        throttle.record_failure("a@example.org", f"10.0.0.{n}")
    assert throttle.retry_after("a@example.org", "192.168.1.1") > 0
    assert throttle.retry_after("other@example.org", "192.168.1.1") == 0


def test_throttle_counts_per_address_across_emails() -> None:
    throttle = LoginThrottle(clock=FakeClock())
    for n in range(5):
        throttle.record_failure(f"user{n}@example.org", "10.0.0.9")
    assert throttle.retry_after("fresh@example.org", "10.0.0.9") > 0
    assert throttle.retry_after("fresh@example.org", "10.0.0.10") == 0


def test_throttle_success_clears_the_email_but_not_the_address() -> None:
    throttle = LoginThrottle(clock=FakeClock())
    fail(throttle, 3)
    throttle.record_success("a@example.org", "10.0.0.1")
    assert throttle.failures("a@example.org", "10.0.0.1") == (0, 3)


def test_throttle_forgets_old_failures() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    fail(throttle, 5)
    clock.now += 24 * 3600
    fail(throttle, 1)
    assert throttle.failures("a@example.org", "10.0.0.1") == (1, 1)
    assert throttle.retry_after("a@example.org", "10.0.0.1") == 0


# command line ------------------------------------------------------------------

async def test_cli_add_prints_a_generated_password_that_works(
        store: SQLiteStore, capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("user", "add", "ops@example.org", "--privilege", "advocate",
                 "--first-name", "Olga", "--last-name", "Ops")
    assert await cli.run_user_command(store, args, no_prompt) == 0
    out = capsys.readouterr().out
    password = out.split("Password (shown only this once): ")[1].strip()
    user = await users.find_user_password(store, "ops@example.org", password)
    assert user is not None
    assert (user.privileges, user.first_name, user.last_name) == (["advocate"], "Olga", "Ops")


async def test_cli_add_reads_password_from_stdin(
        store: SQLiteStore, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    args = parse("user", "add", "ops@example.org", "--password-stdin")
    assert await cli.run_user_command(store, args, no_prompt) == 0
    assert PASSWORD not in capsys.readouterr().out
    user = await users.find_user_password(store, "ops@example.org", PASSWORD)
    assert user is not None and user.privileges == ["user"]


async def test_cli_add_duplicate_fails_with_one_line(
        store: SQLiteStore, capsys: pytest.CaptureFixture[str]) -> None:
    await users.create_account(store, "ops@example.org", PASSWORD, ["user"])
    code = await cli.run_user_command(store, parse("user", "add", "ops@example.org"),
                                           no_prompt)
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "already exists" in err


async def test_cli_list_shows_each_account(
        store: SQLiteStore, capsys: pytest.CaptureFixture[str]) -> None:
    await users.create_account(store, "b@example.org", PASSWORD, ["advocate"], "Bea")
    await users.create_account(store, "a@example.org", PASSWORD, ["admin"])
    assert await cli.run_user_command(store, parse("user", "list"), no_prompt) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("a@example.org\tadmin")
    assert lines[1].startswith("b@example.org\tadvocate\tBea")


async def test_cli_set_password_asks_twice(store: SQLiteStore) -> None:
    await users.create_account(store, "a@example.org", PASSWORD, ["user"])
    answers = iter(["new password 123", "new password 123"])
    code = await cli.run_user_command(
        store, parse("user", "set-password", "a@example.org"), lambda prompt: next(answers))
    assert code == 0
    assert await users.find_user_password(store, "a@example.org", "new password 123")
    assert not await users.find_user_password(store, "a@example.org", PASSWORD)


async def test_cli_set_password_refuses_a_mismatch(
        store: SQLiteStore, capsys: pytest.CaptureFixture[str]) -> None:
    await users.create_account(store, "a@example.org", PASSWORD, ["user"])
    answers = iter(["new password 123", "new password 124"])
    code = await cli.run_user_command(
        store, parse("user", "set-password", "a@example.org"), lambda prompt: next(answers))
    assert code == 1 and "do not match" in capsys.readouterr().err
    assert await users.find_user_password(store, "a@example.org", PASSWORD)


async def test_cli_set_password_for_unknown_email_fails(
        store: SQLiteStore, capsys: pytest.CaptureFixture[str]) -> None:
    code = await cli.run_user_command(
        store, parse("user", "set-password", "ghost@example.org"), no_prompt)
    assert code == 1 and "no account" in capsys.readouterr().err


async def test_cli_set_privilege(store: SQLiteStore) -> None:
    await users.create_account(store, "a@example.org", PASSWORD, ["user"])
    code = await cli.run_user_command(
        store, parse("user", "set-privilege", "a@example.org", "advocate"), no_prompt)
    assert code == 0
    user = await store.get_user_by_email("a@example.org")
    assert user is not None and user.privileges == ["advocate"]


async def test_cli_refuses_to_demote_the_last_admin(
        store: SQLiteStore, capsys: pytest.CaptureFixture[str]) -> None:
    await users.create_account(store, "boss@example.org", PASSWORD, ["admin"])
    code = await cli.run_user_command(
        store, parse("user", "set-privilege", "boss@example.org", "user"), no_prompt)
    assert code == 1 and "only administrator" in capsys.readouterr().err
    user = await store.get_user_by_email("boss@example.org")
    assert user is not None and user.is_admin


def test_cli_rejects_an_unknown_privilege_with_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse("user", "add", "a@example.org", "--privilege", "root")
    assert exit_info.value.code == 2


def test_server_main_runs_user_commands_against_the_data_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import server

    data = str(tmp_path / "data")
    asyncio.run(created_database(tmp_path / "data"))  # as the server's first start does
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert server.main(["--data-dir", data, "user", "add", "ops@example.org",
                        "--privilege", "advocate", "--password-stdin"]) == 0
    capsys.readouterr()
    assert server.main(["user", "list", "--data-dir", data]) == 0  # options after, too
    assert "ops@example.org\tadvocate" in capsys.readouterr().out


async def created_database(data_dir: Path) -> None:
    store = SQLiteStore(data_dir / "livehelp.sqlite3")
    await store.open()
    await store.close()


def test_a_user_command_on_a_missing_data_dir_says_so_and_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import server

    mistyped = tmp_path / "dta"
    assert server.main(["user", "list", "--data-dir", str(mistyped)]) == 1
    assert "there is no livehelp database at" in capsys.readouterr().err
    assert not mistyped.exists()


def test_a_piped_password_without_password_stdin_is_refused_in_words(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import server

    asyncio.run(created_database(tmp_path / "data"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert server.main(["user", "add", "ops@example.org", "--password-stdin",
                        "--data-dir", str(tmp_path / "data")]) == 0

    def piped(prompt: str) -> str:  # getpass reading a pipe that holds one line
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    monkeypatch.setattr(sys, "stdin", io.StringIO("another password\n"))
    monkeypatch.setattr(server.getpass, "getpass", piped)
    capsys.readouterr()
    assert server.main(["user", "set-password", "ops@example.org",
                        "--data-dir", str(tmp_path / "data")]) == 2
    assert "add --password-stdin" in capsys.readouterr().err
