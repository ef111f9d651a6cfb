"""What the live-help model knows of sessions, interviewee clients and operators.

A *client* is one interviewee browser in one interview session (one Monitor
entry). Its key is "<session id>|<participant>", participant being
"u:<user id>" or "b:<browser id>".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from state.store.base import OperatorSettings, User

AVAILABILITIES = ("available", "unavailable", "observeonly")
MODES = ("help", "peer", "peerhelp")


def client_key(session_id: str, participant: str) -> str:
    return f"{session_id}|{participant}"


@dataclass
class LiveSession:
    """What the model knows of one interview session with at least one client."""

    id: str
    interview: str
    title: str
    availability: str = "unavailable"
    mode: str = "help"
    partner_roles: list[str] = field(default_factory=list)
    blocked: bool = False
    clients: set[str] = field(default_factory=set)

    @property
    def listed(self) -> bool:
        return self.availability in ("available", "observeonly")


@dataclass
class Client:
    key: str
    session_id: str
    participant: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    sockets: int = 0
    last_seen: float = field(default_factory=time.monotonic)
    offline: bool = False
    chat_active: bool = False
    operator_id: str | None = None  # operator the conversation is assigned to


@dataclass
class Operator:
    user: User
    settings: OperatorSettings
    sockets: int = 0
    conversations: set[str] = field(default_factory=set)  # client keys assigned

    @property
    def available(self) -> bool:
        return self.sockets > 0 and self.settings.available

    def serves(self, roles: list[str]) -> bool:
        return bool(set(self.settings.roles) & set(roles))
