"""Cluster mode, as the model sees it: the sessions other processes hold
(state/cluster/mirror.py), and by default none (one process)."""

from __future__ import annotations

from typing import Protocol


class RemoteSessions(Protocol):
    """Cluster mode: the Monitor entries other processes hold (state/cluster/mirror.py)."""

    def entries(self) -> list[dict]: ...

    def has_conversation(self, conversation: str) -> bool: ...

    def roles(self) -> set[str]: ...


class NoRemoteSessions:
    """One process: every session is here."""

    def entries(self) -> list[dict]:
        return []

    def has_conversation(self, conversation: str) -> bool:
        return False

    def roles(self) -> set[str]:
        return set()
