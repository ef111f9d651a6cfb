"""`livehelp user add|list|set-password|set-privilege|remove`: accounts from the command line.

A new password, a new privilege or a removal ends the account's sign-ins in the store;
a running server closes the account's open sockets within a second (handlers/rights.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from state.accounts.users import (
    audit,
    check_password,
    create_account,
    generate_password,
    normalize_email,
    remove_account,
    set_password,
    set_privilege,
)
from state.store.base import PRIVILEGES, Store, User

PASSWORD_STDIN_HELP = ("read the password from the first line of standard input, e.g. "
                       "`printf '%%s\\n' \"$PASSWORD\" | livehelp user ... --password-stdin`; "
                       "otherwise it is asked for twice at the terminal")


def add_user_parser(subparsers: argparse._SubParsersAction,
                    parents: list[argparse.ArgumentParser] | None = None) -> None:
    """Add `user add|list|set-password|set-privilege|remove` to the program's sub-commands;
    `parents` carry the options every command takes (--config, --data-dir, ...)."""
    parents = parents or []
    user = subparsers.add_parser(
        "user", help="manage accounts (operators sign in with these)", parents=parents,
        description="Manage the accounts of the server whose data directory (or database) "
                    "the options name. Run it beside a running server: a changed password, "
                    "privilege or a removal signs the account out there within a second.")
    commands = user.add_subparsers(dest="user_command", metavar="COMMAND", required=True)
    add = commands.add_parser("add", parents=parents,
                              help="create an account (prints a password if none given)")
    add.add_argument("email")
    add.add_argument("--privilege", choices=PRIVILEGES, default="user",
                     help="admin, advocate (operators) or user (default)")
    add.add_argument("--first-name", default="")
    add.add_argument("--last-name", default="")
    add.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN_HELP)
    commands.add_parser("list", parents=parents, help="list accounts: email, privilege, name")
    set_pw = commands.add_parser("set-password", parents=parents,
                                 help="set an account's password (signs it out everywhere)")
    set_pw.add_argument("email")
    set_pw.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN_HELP)
    set_priv = commands.add_parser("set-privilege", parents=parents,
                                   help="set an account's privilege (signs it out everywhere)")
    set_priv.add_argument("email")
    set_priv.add_argument("privilege", choices=PRIVILEGES,
                          help="admin, advocate (operators: the Monitor) or user")
    remove = commands.add_parser("remove", parents=parents,
                                 help="remove an account and end its sign-ins")
    remove.add_argument("email")


def _read_stdin_password() -> str:
    return sys.stdin.readline().rstrip("\r\n")


def _fail(message: str, code: int = 1) -> int:
    print(f"livehelp: {message}", file=sys.stderr)
    return code


async def run_user_command(store: Store, args: argparse.Namespace,
                           ask_password: Callable[[str], str]) -> int:
    """Run one `user ...` command against an open store; return the exit code.

    0 done, 1 refused (unknown account, bad value, duplicate), 2 bad usage.
    """
    command = getattr(args, "user_command", None)
    try:
        if command == "list":
            return await _list(store)
        if command == "add":
            return await _add(store, args)
        if command == "set-password":
            return await _set_password(store, args, ask_password)
        if command == "set-privilege":
            return await _set_privilege(store, args)
        if command == "remove":
            return await _remove(store, args)
    except ValueError as error:
        return _fail(str(error))
    return _fail("choose a user command: add, list, set-password, set-privilege, remove", 2)


async def _list(store: Store) -> int:
    users = await store.list_users()
    if not users:
        print("No accounts.")
    for user in users:
        name = f"{user.first_name} {user.last_name}".strip()
        print(f"{user.email}\t{','.join(user.privileges)}\t{name}")
    return 0


async def _add(store: Store, args: argparse.Namespace) -> int:
    generated = not args.password_stdin
    password = generate_password() if generated else _read_stdin_password()
    user = await create_account(store, args.email, password, [args.privilege],
                                args.first_name, args.last_name)
    await audit(store, None, "add user", f"{user.email} as {args.privilege}")
    print(f"Created {user.email} ({args.privilege}).")
    if generated:
        print(f"Password (shown only this once): {password}")
    return 0


async def _existing(store: Store, email: str) -> User:
    user = await store.get_user_by_email(normalize_email(email))
    if user is None:
        raise ValueError(f"no account with the email {email.strip()}")
    return user


async def _set_password(store: Store, args: argparse.Namespace,
                        ask_password: Callable[[str], str]) -> int:
    user = await _existing(store, args.email)
    if args.password_stdin:
        password = _read_stdin_password()
    else:
        try:
            password = ask_password(f"New password for {user.email}: ")
            check_password(password)
            repeated = ask_password("Repeat the password: ")
        except EOFError:
            return _fail("no password given (the input ended); to pipe one in, add "
                         "--password-stdin", 2)
        if repeated != password:
            return _fail("the passwords do not match; nothing was changed")
    await set_password(store, user, password)
    await audit(store, None, "set password", user.email)
    print(f"Password changed for {user.email}.")
    return 0


async def _set_privilege(store: Store, args: argparse.Namespace) -> int:
    user = await _existing(store, args.email)
    await set_privilege(store, user, args.privilege)
    await audit(store, None, "set privilege", f"{user.email} is now {args.privilege}")
    print(f"{user.email} is now {args.privilege}.")
    return 0


async def _remove(store: Store, args: argparse.Namespace) -> int:
    user = await _existing(store, args.email)
    await remove_account(store, user)
    await audit(store, None, "remove user", user.email)
    print(f"Removed {user.email}; its sign-ins have ended.")
    return 0
