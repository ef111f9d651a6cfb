"""Changes to an interview session's record, one at a time per session.

A save replaces the whole record, so two changes made at the same moment from the
same stored record (two people submitting a shared session, an operator blocking a
session while its user submits) would lose one of them. livehelp is one process:
an asyncio.Lock per session, held from reading the record to saving it, is enough.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class SessionLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}  # holders and waiters; the lock goes with the last

    @contextlib.asynccontextmanager
    async def hold(self, session_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        self._users[session_id] = self._users.get(session_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[session_id] -= 1
            if not self._users[session_id]:
                del self._users[session_id], self._locks[session_id]

    def __len__(self) -> int:
        return len(self._locks)
