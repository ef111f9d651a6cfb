"""Every open live-help socket of one application, indexed by account, browser and
client address: the counts behind the per-browser and per-address limits, closing
the sockets of one account (signed out, operator rights removed) or all of them
(restart), and the count of messages being handled, so that a shutdown can wait
until none is half done.

One registry per application (`server.make_app` puts it in `settings["sockets"]`);
`handlers/socket_base.LiveSocket` adds itself before its upgrade and removes itself
when it closes. See docs/protocol.md for the close codes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

# Close codes (RFC 6455 section 7.4; 4000-4999 are for applications). After 1012
# and 1013 a page reconnects; after 4001 and 4003 reconnecting would be refused.
#
# The client sent too many bad frames in a row: the registered "Policy Violation".
# (1009 "Message Too Big", for a frame over `live help: max message bytes`, is
# Tornado's.)
CLOSE_POLICY_VIOLATION = 1008
# The server is restarting (graceful shutdown, SIGTERM): the registered "Service
# Restart" code; the page reconnects after a moment and replays from its last seq.
CLOSE_SERVER_RESTART = 1012
# The reader fell too far behind what the server had to send it (more than
# `limits: max queued bytes` waiting): the registered "Try Again Later" code. The
# page reconnects and replays from its last seq, so nothing it missed is lost.
CLOSE_TOO_FAR_BEHIND = 1013
# The account's sign-in ended (signed out elsewhere, expired): like HTTP 401, so
# 4000 + 401.
CLOSE_SIGNED_OUT = 4001
# The account lost the right this socket needs (its operator privilege): like
# HTTP 403, so 4000 + 403.
CLOSE_RIGHTS_REMOVED = 4003
# There is no close code for "too many sockets": such a socket is refused before
# its upgrade with HTTP 429 and words (a close code would let it open first and
# have the page reconnect into the same refusal).


@dataclass(frozen=True)
class SocketKeys:
    """What a socket is counted under: the signed-in account (None when anonymous),
    the browser (the participant key: "u:<user id>" when signed in, so an operator's
    Monitors count per account, else "b:<browser id>") and the client's address."""

    account: str | None
    browser: str
    address: str


class RegisteredSocket(Protocol):
    """What the registry needs of a socket."""

    keys: SocketKeys

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


class SocketRegistry:
    """The open sockets of one application; the one owner of these indexes."""

    def __init__(self) -> None:
        self._sockets: set[RegisteredSocket] = set()
        self._by_account: dict[str, set[RegisteredSocket]] = {}
        self._by_browser: dict[str, set[RegisteredSocket]] = {}
        self._by_address: dict[str, set[RegisteredSocket]] = {}
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def _indexes(self, keys: SocketKeys) -> Iterator[tuple[dict, str]]:
        if keys.account is not None:
            yield self._by_account, keys.account
        yield self._by_browser, keys.browser
        yield self._by_address, keys.address

    def add(self, socket: RegisteredSocket) -> None:
        """Count `socket` under its keys (before its upgrade, so that two upgrades at
        once cannot both pass the limits)."""
        self._sockets.add(socket)
        for index, key in self._indexes(socket.keys):
            index.setdefault(key, set()).add(socket)

    def remove(self, socket: RegisteredSocket) -> None:
        """Forget `socket`; removing one that is not registered does nothing."""
        if socket not in self._sockets:
            return
        self._sockets.discard(socket)
        for index, key in self._indexes(socket.keys):
            sockets = index[key]
            sockets.discard(socket)
            if not sockets:
                del index[key]

    def __len__(self) -> int:
        return len(self._sockets)

    def sockets(self) -> list[RegisteredSocket]:
        """Every registered socket."""
        return list(self._sockets)

    def per_browser(self, browser: str) -> int:
        """Open sockets of one browser (or signed-in account)."""
        return len(self._by_browser.get(browser, ()))

    def per_address(self, address: str) -> int:
        """Open sockets from one client address."""
        return len(self._by_address.get(address, ()))

    def of_account(self, user_id: str) -> list[RegisteredSocket]:
        """The open sockets of one signed-in account."""
        return list(self._by_account.get(user_id, ()))

    def accounts(self) -> list[str]:
        """User ids of the accounts with at least one open socket (for a periodic
        check that they still hold their sign-in and rights)."""
        return list(self._by_account)

    def close_account(self, user_id: str, code: int, reason: str) -> int:
        """Close every socket of one account with `code` and `reason` (words shown to
        the person); returns how many. The sockets leave the registry as they close."""
        sockets = self.of_account(user_id)
        for socket in sockets:
            socket.close(code, reason)
        return len(sockets)

    def close_all(self, code: int, reason: str) -> int:
        """Close every socket with `code` and `reason`; returns how many."""
        sockets = self.sockets()
        for socket in sockets:
            socket.close(code, reason)
        return len(sockets)

    # messages being handled ------------------------------------------------------
    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        """Count one client message as in flight while the block runs."""
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    @property
    def in_flight(self) -> int:
        """Client messages being handled now."""
        return self._in_flight

    async def drain(self, timeout: float) -> bool:
        """Wait until no client message is being handled, at most `timeout` seconds;
        True when none is, False when the time ran out first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True
