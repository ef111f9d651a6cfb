"""One process writes chat to a SQLite file: an exclusive lock on a file beside it.

Seqs come from a cache (see sqlite_rows.insert_message) that is exact only while one
process writes chat, so the server takes this lock at start (or its first chat batch
does) and keeps it until the store closes, with its pid in the file for the message
another process gets. Other processes (`livehelp user ...`) may still use the store
for anything else.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from state.store.base import StoreUnavailable


class WriterLock:
    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".chat-lock")
        self._descriptor: int | None = None

    def claim(self) -> None:
        """Hold the lock (again: nothing); StoreUnavailable naming the holder if taken."""
        if self._descriptor is not None:
            return
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.read(descriptor, 32).decode(errors="replace").strip() or "unknown"
            os.close(descriptor)
            raise StoreUnavailable(f"another livehelp server (pid {holder}) writes chat to "
                                   f"{self.database}; stop it first") from exc
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, str(os.getpid()).encode(), 0)
        self._descriptor = descriptor

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # releases the lock
            self._descriptor = None
