"""The Monitor entries other processes hold, as their events tell: each process's
Monitors list every session of the cluster, and a snapshot includes them.

Kept up to date by the "monitor" events the relay brings ("session", "session_gone")
and by whole lists: every process sends its own list when it connects to Redis and
whenever another process asks (after its own start or reconnect), so an event
pub/sub dropped is mended at the next list. The entries of a process that stops
beating are forgotten, and the Monitors told they are gone.
"""

from __future__ import annotations


class RemoteEntries:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, dict]] = {}  # entry id -> (process, entry)

    def entries(self) -> list[dict]:
        return [entry for _, entry in self._entries.values()]

    def processes(self) -> set[str]:
        return {process for process, _ in self._entries.values()}

    def seen(self, process: str, message: dict) -> None:
        """A "monitor" event of `process`."""
        kind = message.get("type")
        if kind == "session":
            entry = message["session"]
            self._entries[entry["id"]] = (process, entry)
        elif kind == "session_gone":
            self._entries.pop(message["id"], None)

    def replace(self, process: str, entries: list[dict]) -> tuple[list[dict], list[str]]:
        """`process`'s whole list: the entries that changed, and the ids of those gone."""
        before = {entry_id: entry for entry_id, (owner, entry) in self._entries.items()
                  if owner == process}
        self.forget(process)
        for entry in entries:
            self._entries[entry["id"]] = (process, entry)
        changed = [entry for entry in entries if before.get(entry["id"]) != entry]
        listed = {entry["id"] for entry in entries}
        return changed, [entry_id for entry_id in before if entry_id not in listed]

    def forget(self, process: str) -> list[str]:
        """Drop `process`'s entries; their ids."""
        ids = [entry_id for entry_id, (owner, _) in self._entries.items() if owner == process]
        for entry_id in ids:
            del self._entries[entry_id]
        return ids
