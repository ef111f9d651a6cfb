"""The Monitor entries other processes hold, as their events tell: each process's
Monitors list every session of the cluster, and a snapshot includes them.

Kept up to date by the "monitor" events the relay brings ("session", "session_gone")
and by whole lists: every process sends its own list when it connects to Redis and
whenever another process asks (after its own start or reconnect), so an event
pub/sub dropped is mended at the next list. The entries of a process that stops
beating turn offline (their pages reconnect to another process, which lists them
again under the same ids) and are forgotten after `OFFLINE_KEPT_SECONDS`. The entries also say which
process is each session's home, where operators' commands about it are run.
"""

from __future__ import annotations

import time
from collections import Counter

# A dead process's sessions stay listed as offline this long (as one process keeps an
# offline client listed: state/livehelp/model.py FORGET_OFFLINE_SECONDS).
OFFLINE_KEPT_SECONDS = 600.0


class RemoteEntries:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, dict]] = {}  # entry id -> (process, entry)
        self._homes: dict[str, str] = {}  # session id -> its process
        # How many of those entries are of each session, and of each conversation.
        self._sessions: Counter[str] = Counter()
        self._conversations: Counter[str] = Counter()
        self._roles: Counter[str] = Counter()  # the roles those entries ask for
        self._owners: Counter[str] = Counter()  # the processes holding them
        self._orphaned: dict[str, float] = {}  # dead process -> since when (monotonic)

    def entries(self) -> list[dict]:
        return [entry for _, entry in self._entries.values()]

    def processes(self) -> set[str]:
        """The live processes whose entries are here (each heartbeat asks: counted, not
        found by a walk over every entry)."""
        return set(self._owners) - self._orphaned.keys()

    def home_of(self, session_id: str) -> str | None:
        """The process that holds the session, when it is another one."""
        return self._homes.get(session_id)

    def has_conversation(self, conversation: str) -> bool:
        return self._conversations[conversation] > 0

    def roles(self) -> set[str]:
        return set(self._roles)

    def seen(self, process: str, message: dict) -> None:
        """A "monitor" event of `process`."""
        kind = message.get("type")
        if kind == "session":
            self._put(process, message["session"])
        elif kind == "session_gone":
            self._drop(message["id"])

    def replace(self, process: str, entries: list[dict]) -> tuple[list[dict], list[str]]:
        """`process`'s whole list: the entries that changed, and the ids of those gone."""
        self._orphaned.pop(process, None)  # back under the same name
        before = {entry_id: entry for entry_id, (owner, entry) in self._entries.items()
                  if owner == process}
        self.forget(process)
        for entry in entries:
            self._put(process, entry)
        changed = [entry for entry in entries if before.get(entry["id"]) != entry]
        listed = {entry["id"] for entry in entries}
        return changed, [entry_id for entry_id in before if entry_id not in listed]

    def orphan(self, process: str) -> list[dict]:
        """`process` is gone: its entries, now offline (until another process lists
        them again, or they are forgotten by `forget_orphans`)."""
        orphans = []
        for entry_id, (owner, entry) in list(self._entries.items()):
            if owner == process:
                entry = {**entry, "status": "offline", "chat": False, "participants": [
                    {**person, "status": "offline"} for person in entry["participants"]]}
                self._entries[entry_id] = (owner, entry)
                orphans.append(entry)
        self._orphaned[process] = time.monotonic()
        return orphans

    def forget_orphans(self) -> list[str]:
        """The ids of dead processes' entries kept long enough, forgotten now."""
        now, ids = time.monotonic(), []
        for process, since in list(self._orphaned.items()):
            if now - since >= OFFLINE_KEPT_SECONDS:
                del self._orphaned[process]
                ids += self.forget(process)
        return ids

    def forget(self, process: str) -> list[str]:
        """Drop `process`'s entries; their ids."""
        ids = [entry_id for entry_id, (owner, _) in self._entries.items() if owner == process]
        for entry_id in ids:
            self._drop(entry_id)
        return ids

    def _put(self, process: str, entry: dict) -> None:
        self._drop(entry["id"])
        self._entries[entry["id"]] = (process, entry)
        self._homes[entry["session"]] = process
        self._owners[process] += 1
        self._sessions[entry["session"]] += 1
        self._conversations[entry["conversation"]] += 1
        self._roles.update(set(entry.get("roles", ())))

    def _drop(self, entry_id: str) -> None:
        found = self._entries.pop(entry_id, None)
        if found is None:
            return
        process, entry = found
        for counts, name in ((self._owners, process), (self._sessions, entry["session"]),
                             (self._conversations, entry["conversation"]),
                             *((self._roles, role) for role in set(entry.get("roles", ())))):
            counts[name] -= 1
            if counts[name] <= 0:
                del counts[name]
        if entry["session"] not in self._sessions:
            del self._homes[entry["session"]]
