"""Accounts: password hashing, creating and changing accounts, the first admin, audit.

No Tornado here; the sign-in pages (handlers/auth.py), the admin page
(handlers/admin.py) and `livehelp user ...` (cli.py) all go through these functions.
A new password, a new privilege and removing the account end every sign-in of the
account (sign_in.py), here and nowhere else.
"""

from __future__ import annotations

import asyncio
import functools
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from state.accounts import sign_in
from state.store.base import PRIVILEGES, AuditEntry, DuplicateEmail, Store, User, new_id

FIRST_ADMIN_EMAIL = "admin@localhost"
MIN_PASSWORD_LENGTH = 8
# Long enough for any passphrase; bounds the work one request can ask of the hasher.
MAX_PASSWORD_LENGTH = 1024
MAX_NAME_LENGTH = 100
MAX_EMAIL_LENGTH = 254  # the longest address SMTP can carry
# Something@something without spaces: "admin@localhost" must pass, so no dot is required.
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+$")

# OWASP's recommended argon2id minimum (19 MiB, 2 passes, 1 lane): about 40 ms per
# hash, so sign-in stays quick while guessing offline stays expensive.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


class EmailTaken(ValueError):
    """An account with this email exists already (a ValueError fit to show an admin)."""


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (salted; encodes its own parameters)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; False for a wrong password or any malformed hash."""
    if not password_hash or not isinstance(password, str):
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError, ValueError, TypeError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


@functools.cache
def _decoy_hash() -> str:
    """A hash no password matches, verified for unknown emails so timing reveals nothing."""
    return hash_password(secrets.token_urlsafe(32))


def generate_password() -> str:
    """A random password (about 96 bits) that reads without ambiguous characters."""
    return secrets.token_urlsafe(12)


def normalize_email(email: str) -> str:
    """Trimmed, lower-cased email; ValueError when it does not look like an address."""
    email = (email or "").strip().lower()
    if not email:
        raise ValueError("Email is required.")
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL_SHAPE.match(email):
        raise ValueError(f"'{email[:80]}' is not an email address (expected name@domain).")
    return email


def check_password(password: str) -> str:
    """The password itself if it is acceptable, else ValueError saying why."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters long.")
    return password


def check_privileges(privileges: list[str] | tuple[str, ...]) -> list[str]:
    """Known privileges without repeats, in the given order; ValueError otherwise."""
    if isinstance(privileges, str) or not privileges:
        raise ValueError(f"Give at least one privilege: {', '.join(PRIVILEGES)}.")
    unknown = [p for p in privileges if p not in PRIVILEGES]
    if unknown:
        raise ValueError(f"Unknown privilege '{unknown[0]}'; choose from {', '.join(PRIVILEGES)}.")
    return list(dict.fromkeys(privileges))


def _check_name(name: str, label: str) -> str:
    name = (name or "").strip()
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"{label} must be at most {MAX_NAME_LENGTH} characters long.")
    return name


async def create_account(store: Store, email: str, password: str, privileges: list[str],
                         first_name: str = "", last_name: str = "") -> User:
    """Validate and store a new account.

    Raises ValueError with a message fit to show a person when the email, password,
    privileges or names are wrong, or EmailTaken (a ValueError) when the email is taken.
    """
    user = User(
        id=new_id(),
        email=normalize_email(email),
        password_hash="",
        first_name=_check_name(first_name, "First name"),
        last_name=_check_name(last_name, "Last name"),
        privileges=check_privileges(privileges),
    )
    check_password(password)
    # Hashing takes tens of milliseconds of CPU: keep it off the event loop.
    user.password_hash = await asyncio.to_thread(hash_password, password)
    try:
        return await store.create_user(user)
    except DuplicateEmail:
        raise EmailTaken(f"An account with the email {user.email} already exists.") from None


async def find_user_password(store: Store, email: str, password: str) -> User | None:
    """The account whose email and password match, else None.

    An unknown email still costs one hash verification, so response time does not
    tell which emails have accounts.
    """
    try:
        email = normalize_email(email)
    except ValueError:
        email = ""
    user = await store.get_user_by_email(email) if email else None
    stored = user.password_hash if user else _decoy_hash()
    ok = await asyncio.to_thread(verify_password, stored, password or "")
    if not (ok and user):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(hash_password, password)
        await store.update_user(user)
    return user


async def set_password(store: Store, user: User, password: str) -> None:
    """Check and store a new password for `user`; every sign-in of the account ends."""
    check_password(password)
    user.password_hash = await asyncio.to_thread(hash_password, password)
    await store.update_user(user)
    await sign_in.end_all(store, user.id)


async def count_admins(store: Store) -> int:
    return sum(1 for user in await store.list_users() if user.is_admin)


async def _refuse_last_admin(store: Store, user: User, privileges: list[str]) -> None:
    if user.is_admin and "admin" not in privileges and await count_admins(store) <= 1:
        raise ValueError(
            f"{user.email} is the only administrator; make another account admin first.")


async def set_privilege(store: Store, user: User, privilege: str) -> None:
    """Give `user` exactly this privilege; refuse to remove the last admin. Every
    sign-in of the account ends: what it was signed in for has changed."""
    privileges = check_privileges([privilege])
    await _refuse_last_admin(store, user, privileges)
    user.privileges = privileges
    await store.update_user(user)
    await sign_in.end_all(store, user.id)


async def remove_account(store: Store, user: User) -> None:
    """Remove the account with its settings and sign-ins; refuse to remove the last admin."""
    await _refuse_last_admin(store, user, [])
    await store.delete_user(user.id)


async def ensure_first_admin(store: Store) -> str | None:
    """Make sure an admin exists; return the new password to show once, or None.

    When no account has `admin`, admin@localhost is created (or, if it exists
    without the privilege, given it and a fresh password).
    """
    if await count_admins(store) > 0:
        return None
    password = generate_password()
    existing = await store.get_user_by_email(FIRST_ADMIN_EMAIL)
    if existing:
        existing.privileges = ["admin"]
        await set_password(store, existing, password)
    else:
        await create_account(store, FIRST_ADMIN_EMAIL, password, ["admin"])
    return password


async def audit(store: Store, actor: User | None, action: str, detail: str) -> None:
    """Record an account change; `actor` None means the command line."""
    await store.add_audit(AuditEntry(
        actor_id=actor.id if actor else "",
        actor_email=actor.email if actor else "(command line)",
        action=action, detail=detail))
