"""Sign-ins: the server side of the `lh_user` cookie.

The cookie carries a random sign-in id; the store knows the sign-in by the sha256 of
that id only, so a copy of the database gives nobody a live cookie. A sign-in ends
when its browser signs out, when unused for `idle_hours`, `max_days` after it began
whatever happens, and together with every other sign-in of its account when the
password or the privilege changes or the account is removed (users.py).

No Tornado here: handlers/base.py reads the cookie and asks `look_up`, handlers/rights.py
asks `live_of` for the sign-ins that open sockets were opened with.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from state.store.base import SignIn, Store, User

# Random bytes in a sign-in id: 256 bits, beyond guessing however many are live.
ID_BYTES = 32
# last_seen is written at most this often per sign-in, so a page view is a read and
# not a write each time; idle lifetimes are hours, a minute's error does not matter.
TOUCH_SECONDS = 60.0

# Seconds since the epoch: time.time, or tests/clock.py's FakeClock.
Clock = Callable[[], float]


class Lifetime(Protocol):
    """How long a sign-in lasts (config.sign_in)."""

    idle_hours: float
    max_days: float


def hash_id(sign_in_id: str) -> str:
    """What the store keeps of a sign-in id: its sha256, in hex."""
    return hashlib.sha256(sign_in_id.encode()).hexdigest()


def _now(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock(), UTC)


def is_live(sign_in: SignIn, lifetime: Lifetime, now: datetime) -> bool:
    """True while the sign-in was used within `idle_hours` and began within `max_days`."""
    return (now - sign_in.last_seen < timedelta(hours=lifetime.idle_hours)
            and now - sign_in.created < timedelta(days=lifetime.max_days))


async def create(store: Store, user_id: str, clock: Clock = time.time) -> str:
    """Begin a sign-in of the account; return its id, for the cookie only (never stored)."""
    sign_in_id = secrets.token_urlsafe(ID_BYTES)
    now = _now(clock)
    await store.create_sign_in(SignIn(hash_id(sign_in_id), user_id, now, now))
    return sign_in_id


async def look_up(store: Store, sign_in_id: str, lifetime: Lifetime,
                  clock: Clock = time.time) -> tuple[SignIn, User] | None:
    """The live sign-in a cookie names and its account, else None. A sign-in found
    expired is removed; one in use has its `last_seen` moved (see TOUCH_SECONDS)."""
    found = await store.get_sign_ins([hash_id(sign_in_id)])
    if not found:
        return None
    live = await _keep_live(store, found, lifetime, _now(clock))
    user = await store.get_user(live[0].user_id) if live else None
    return (live[0], user) if user else None


async def live_of(store: Store, id_hashes: list[str], lifetime: Lifetime,
                  clock: Clock = time.time) -> dict[str, SignIn]:
    """Of these sign-ins (by hash), the live ones; an open socket counts as use, so
    their `last_seen` moves as for page views. One read, at most one write or two."""
    if not id_hashes:
        return {}
    live = await _keep_live(store, await store.get_sign_ins(id_hashes), lifetime, _now(clock))
    return {sign_in.id_hash: sign_in for sign_in in live}


async def _keep_live(store: Store, found: list[SignIn], lifetime: Lifetime,
                     now: datetime) -> list[SignIn]:
    """The live ones of `found`; removes the expired, touches the stale."""
    live = [sign_in for sign_in in found if is_live(sign_in, lifetime, now)]
    expired = [sign_in.id_hash for sign_in in found if not is_live(sign_in, lifetime, now)]
    if expired:
        await store.delete_sign_ins(expired)
    stale = [sign_in for sign_in in live
             if now - sign_in.last_seen >= timedelta(seconds=TOUCH_SECONDS)]
    if stale:
        await store.touch_sign_ins([sign_in.id_hash for sign_in in stale], now)
        for sign_in in stale:
            sign_in.last_seen = now
    return live


async def end_all(store: Store, user_id: str) -> None:
    """End every sign-in of the account, in every browser."""
    await store.delete_user_sign_ins(user_id)


async def remove_expired(store: Store, lifetime: Lifetime, clock: Clock = time.time) -> int:
    """Remove the sign-ins whose browsers never came back; return how many."""
    now = _now(clock)
    return await store.delete_stale_sign_ins(now - timedelta(hours=lifetime.idle_hours),
                                             now - timedelta(days=lifetime.max_days))
